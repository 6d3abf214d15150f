package datastore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
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
		return nil, fmt.Errorf("read %s: %w", key, ErrNotFound)
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

// consulLocker takes locks with Consul sessions: one session per lock, with the store's TTL and
// behavior "delete", acquires the key with ?acquire=, renews the session while held and releases
// with ?release= before destroying the session. A holder that dies stops renewing; Consul
// invalidates the session after its TTL and deletes the key.
type consulLocker struct {
	s     *consulStore
	owner string
}

func (s *consulStore) locker(owner string) *consulLocker { return &consulLocker{s: s, owner: owner} }

// Lock creates a session and tries to acquire the key with it until wait has passed.
func (l *consulLocker) Lock(ctx context.Context, key string, wait time.Duration) (Lease, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty lock key", ErrInvalidKey)
	}
	status, body, err := l.s.do(ctx, http.MethodPut, l.s.c.url+"/v1/session/create", map[string]string{
		"Name":     "fleetbook lock " + key + " for " + l.owner,
		"TTL":      l.s.cfg.ttl.Round(time.Second).String(),
		"Behavior": "delete",
	})
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("consul: %w", statusError(status, body))
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: create session: %w", key, err)
	}
	var sess struct {
		ID string `json:"ID"`
	}
	if err := json.Unmarshal(body, &sess); err != nil || sess.ID == "" {
		return nil, fmt.Errorf("lock %s: create session: bad reply %q", key, body)
	}
	rec, _ := json.Marshal(lockRecord{Owner: l.owner, Acquired: time.Now().UTC()})
	acquire := l.s.kvURL(key, "acquire="+url.QueryEscape(sess.ID))
	got, err := pollUntil(ctx, wait, lockPoll, func() (bool, error) {
		return l.s.boolCall(ctx, http.MethodPut, acquire, rec)
	})
	if err != nil || !got {
		l.destroy(ctx, sess.ID)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		return nil, lockTimeout(key, wait)
	}
	ls := &consulLease{l: l, key: key, session: sess.ID}
	// Consul invalidates a session somewhere between TTL and twice TTL after its last renewal.
	ls.r = startRenewer(l.s.cfg.ttl, ls.renew)
	return ls, nil
}

// destroy ends a session, best effort: its TTL ends it anyway.
func (l *consulLocker) destroy(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpTimeout)
	defer cancel()
	_, _, _ = l.s.do(ctx, http.MethodPut, l.s.c.url+"/v1/session/destroy/"+url.PathEscape(id), nil)
}

// consulLease is a held Consul lock.
type consulLease struct {
	l       *consulLocker
	key     string
	session string
	r       *renewer
}

func (ls *consulLease) Key() string           { return ls.key }
func (ls *consulLease) Lost() <-chan struct{} { return ls.r.lost }

// renew renews the session; 404 means it was invalidated and the lock is gone.
func (ls *consulLease) renew(ctx context.Context) error {
	status, body, err := ls.l.s.do(ctx, http.MethodPut, ls.l.s.c.url+"/v1/session/renew/"+url.PathEscape(ls.session), nil)
	switch {
	case err != nil:
		return err
	case status == http.StatusNotFound:
		return fmt.Errorf("renew lock %s: session invalidated: %w", ls.key, ErrNotHeld)
	case status != http.StatusOK:
		return fmt.Errorf("renew lock %s: consul: %w", ls.key, statusError(status, body))
	}
	return nil
}

// Release releases the key, which Consul does only for the session holding it, then destroys
// the session.
func (ls *consulLease) Release(ctx context.Context) error {
	ls.r.halt()
	defer ls.l.destroy(ctx, ls.session)
	if ls.r.isLost() {
		return fmt.Errorf("release lock %s: %w", ls.key, ErrNotHeld)
	}
	ok, err := ls.l.s.boolCall(ctx, http.MethodPut, ls.l.s.kvURL(ls.key, "release="+url.QueryEscape(ls.session)), nil)
	if err != nil {
		return fmt.Errorf("release lock %s: %w", ls.key, err)
	}
	if !ok {
		ls.r.markLost()
		return fmt.Errorf("release lock %s: %w", ls.key, ErrNotHeld)
	}
	return nil
}
