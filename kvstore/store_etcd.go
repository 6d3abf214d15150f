package kvstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// etcdConfig is an etcd store's configuration.
type etcdConfig struct {
	url      string
	prefix   string
	user     string
	password string
}

func parseEtcd(p *props) (*etcdConfig, error) {
	c := &etcdConfig{}
	var err error
	if c.url, err = parseBaseURL(p, "http://127.0.0.1:2379"); err != nil {
		return nil, err
	}
	if c.prefix, err = p.str("prefix", ""); err != nil {
		return nil, err
	}
	if c.user, err = p.str("user", ""); err != nil {
		return nil, err
	}
	if c.password, err = p.str("password", ""); err != nil {
		return nil, err
	}
	if c.password != "" && c.user == "" {
		return nil, p.errf("user", "is required when password is given")
	}
	return c, nil
}

// etcdStore talks to etcd's v3 JSON gateway (/v3/kv/range, put, deleterange), where keys and
// values travel base64-encoded. Values are stored as text and read back as strings.
type etcdStore struct {
	c   *etcdConfig
	cfg *config

	mu    sync.Mutex
	token string
}

func newEtcdStore(c *etcdConfig, cfg *config) *etcdStore { return &etcdStore{c: c, cfg: cfg} }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// call posts req to the gateway endpoint path and decodes the reply into out.
func (s *etcdStore) call(ctx context.Context, path string, req, out any) error {
	status, body, err := s.post(ctx, path, req)
	if err == nil && s.c.user != "" && status != http.StatusOK && bytes.Contains(body, []byte("invalid auth token")) {
		// Simple tokens expire after some idle minutes: authenticate again, once.
		s.mu.Lock()
		s.token = ""
		s.mu.Unlock()
		status, body, err = s.post(ctx, path, req)
	}
	if err != nil {
		return fmt.Errorf("etcd %s: %w", path, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("etcd %s: %w", path, statusError(status, body))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("etcd %s: bad reply: %w", path, err)
		}
	}
	return nil
}

// post sends one request, authenticated when the store has a user.
func (s *etcdStore) post(ctx context.Context, path string, req any) (int, []byte, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if s.c.user != "" {
		tok, err := s.authenticate(ctx)
		if err != nil {
			return 0, nil, err
		}
		h.Set("Authorization", tok)
	}
	status, body, _, err := doHTTP(ctx, http.MethodPost, s.c.url+path, h, req)
	return status, body, err
}

// authenticate gets (once) the token of the configured user.
func (s *etcdStore) authenticate(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" {
		return s.token, nil
	}
	status, body, _, err := doHTTP(ctx, http.MethodPost, s.c.url+"/v3/auth/authenticate",
		http.Header{"Content-Type": {"application/json"}},
		map[string]string{"name": s.c.user, "password": s.c.password})
	if err != nil {
		return "", fmt.Errorf("etcd authenticate %s: %w", s.c.user, err)
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("etcd authenticate %s: %w", s.c.user, statusError(status, body))
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("etcd authenticate %s: no token in reply", s.c.user)
	}
	s.token = out.Token
	return s.token, nil
}

// Get reads the key's value as a string.
func (s *etcdStore) Get(ctx context.Context, key string) (any, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	var out struct {
		KVs []struct {
			Value string `json:"value"`
		} `json:"kvs"`
	}
	if err := s.call(ctx, "/v3/kv/range", map[string]string{"key": b64(s.c.prefix + key)}, &out); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(out.KVs) == 0 {
		return nil, fmt.Errorf("read %s: %w", key, ErrKeyNotFound)
	}
	v, err := base64.StdEncoding.DecodeString(out.KVs[0].Value)
	if err != nil {
		return nil, fmt.Errorf("read %s: bad value encoding: %w", key, err)
	}
	return string(v), nil
}

// Put writes value's text form.
func (s *etcdStore) Put(ctx context.Context, key string, value any) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	v, err := textValue(value)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := s.call(ctx, "/v3/kv/put", map[string]string{"key": b64(s.c.prefix + key), "value": b64(v)}, nil); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// Delete removes the key.
func (s *etcdStore) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if err := s.call(ctx, "/v3/kv/deleterange", map[string]string{"key": b64(s.c.prefix + key)}, nil); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
