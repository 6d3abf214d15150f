package kvstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// consulConfig is a Consul store's configuration.
type consulConfig struct {
	url    string
	prefix string
	token  string
}

func parseConsul(p *props) (*consulConfig, error) {
	c := &consulConfig{}
	var err error
	if c.url, err = parseBaseURL(p, "http://127.0.0.1:8500"); err != nil {
		return nil, err
	}
	if c.prefix, err = p.str("prefix", ""); err != nil {
		return nil, err
	}
	if c.token, err = p.str("token", ""); err != nil {
		return nil, err
	}
	return c, nil
}

// consulStore talks to a Consul agent's KV HTTP API (/v1/kv/KEY). Values are stored as text and
// read back as strings.
type consulStore struct {
	c   *consulConfig
	cfg *config
}

func newConsulStore(c *consulConfig, cfg *config) *consulStore { return &consulStore{c: c, cfg: cfg} }

// kvURL is the URL of key, with query (may be "").
func (s *consulStore) kvURL(key, query string) string {
	segs := strings.Split(s.c.prefix+key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	u := s.c.url + "/v1/kv/" + strings.Join(segs, "/")
	if query != "" {
		u += "?" + query
	}
	return u
}

// do calls the agent with the token, if any.
func (s *consulStore) do(ctx context.Context, method, u string, body any) (int, []byte, error) {
	h := http.Header{}
	if s.c.token != "" {
		h.Set("X-Consul-Token", s.c.token)
	}
	status, data, _, err := doHTTP(ctx, method, u, h, body)
	if err != nil {
		return 0, nil, fmt.Errorf("consul: %w", err)
	}
	return status, data, nil
}

// Get reads the key's value as a string.
func (s *consulStore) Get(ctx context.Context, key string) (any, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	status, body, err := s.do(ctx, http.MethodGet, s.kvURL(key, ""), nil)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", key, err)
	case status == http.StatusNotFound:
		return nil, fmt.Errorf("read %s: %w", key, ErrKeyNotFound)
	case status != http.StatusOK:
		return nil, fmt.Errorf("read %s: consul: %w", key, statusError(status, body))
	}
	var entries []struct {
		Value *string `json:"Value"`
	}
	if err := json.Unmarshal(body, &entries); err != nil || len(entries) == 0 {
		return nil, fmt.Errorf("read %s: consul: bad reply %q", key, body)
	}
	if entries[0].Value == nil {
		return "", nil
	}
	v, err := base64.StdEncoding.DecodeString(*entries[0].Value)
	if err != nil {
		return nil, fmt.Errorf("read %s: consul: bad value encoding: %w", key, err)
	}
	return string(v), nil
}

// Put writes value's text form.
func (s *consulStore) Put(ctx context.Context, key string, value any) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	v, err := textValue(value)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	ok, err := s.boolCall(ctx, http.MethodPut, s.kvURL(key, ""), []byte(v))
	if err == nil && !ok {
		err = fmt.Errorf("consul refused the write")
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// Delete removes the key.
func (s *consulStore) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if _, err := s.boolCall(ctx, http.MethodDelete, s.kvURL(key, ""), nil); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// boolCall makes a call Consul answers with true or false.
func (s *consulStore) boolCall(ctx context.Context, method, u string, body any) (bool, error) {
	status, data, err := s.do(ctx, method, u, body)
	if err != nil {
		return false, err
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("consul: %w", statusError(status, data))
	}
	return strings.TrimSpace(string(data)) == "true", nil
}
