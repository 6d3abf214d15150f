package datastore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
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
		return nil, fmt.Errorf("read %s: %w", key, ErrNotFound)
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

// etcdLocker takes locks as etcd keys attached to a lease: a key is created only if absent (a
// transaction comparing its create revision with 0), the lease is kept alive while held, and
// revoking it deletes the key. A holder that dies stops the keepalives and etcd deletes the key
// when the lease expires.
type etcdLocker struct {
	s     *etcdStore
	owner string
}

func (s *etcdStore) locker(owner string) *etcdLocker { return &etcdLocker{s: s, owner: owner} }

// leaseID decodes an int64 the gateway sends as a JSON string.
type leaseID string

func (id *leaseID) UnmarshalJSON(b []byte) error {
	*id = leaseID(strings.Trim(string(b), `"`))
	return nil
}

// Lock grants a lease and tries to create the key on it until wait has passed.
func (l *etcdLocker) Lock(ctx context.Context, key string, wait time.Duration) (Lease, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty lock key", ErrInvalidKey)
	}
	ttl := int64(l.s.cfg.ttl.Round(time.Second) / time.Second)
	var grant struct {
		ID  leaseID `json:"ID"`
		TTL leaseID `json:"TTL"`
	}
	if err := l.s.call(ctx, "/v3/lease/grant", map[string]any{"TTL": ttl}, &grant); err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if grant.ID == "" {
		return nil, fmt.Errorf("lock %s: etcd granted no lease", key)
	}
	k := b64(l.s.c.prefix + key)
	rec, _ := json.Marshal(lockRecord{Owner: l.owner, Acquired: time.Now().UTC()})
	txn := map[string]any{
		"compare": []any{map[string]any{"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}},
		"success": []any{map[string]any{"request_put": map[string]any{"key": k, "value": b64(string(rec)), "lease": string(grant.ID)}}},
	}
	lease := &etcdLease{l: l, key: key, id: string(grant.ID)}
	kept := time.Now()
	got, err := pollUntil(ctx, wait, lockPoll, func() (bool, error) {
		// The lease must outlive a long wait, or the key would be created on a dead lease.
		if time.Since(kept) > l.s.cfg.ttl/3 {
			if err := lease.renew(ctx); err != nil {
				return false, err
			}
			kept = time.Now()
		}
		var out struct {
			Succeeded bool `json:"succeeded"`
		}
		if err := l.s.call(ctx, "/v3/kv/txn", txn, &out); err != nil {
			return false, err
		}
		return out.Succeeded, nil
	})
	if err != nil || !got {
		// The lease holds nothing; revoking it is tidiness, its TTL would end it anyway.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpTimeout)
		_ = l.s.call(rctx, "/v3/lease/revoke", map[string]any{"ID": string(grant.ID)}, nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		return nil, lockTimeout(key, wait)
	}
	lease.r = startRenewer(l.s.cfg.ttl, lease.renew)
	return lease, nil
}

// etcdLease is a held etcd lock.
type etcdLease struct {
	l   *etcdLocker
	key string
	id  string
	r   *renewer
}

func (ls *etcdLease) Key() string           { return ls.key }
func (ls *etcdLease) Lost() <-chan struct{} { return ls.r.lost }

// renew sends one keepalive; a reply without a TTL means the lease expired.
func (ls *etcdLease) renew(ctx context.Context) error {
	var out struct {
		Result struct {
			TTL leaseID `json:"TTL"`
		} `json:"result"`
	}
	if err := ls.l.s.call(ctx, "/v3/lease/keepalive", map[string]any{"ID": ls.id}, &out); err != nil {
		return err
	}
	if n, _ := strconv.ParseInt(string(out.Result.TTL), 10, 64); n <= 0 {
		return fmt.Errorf("renew lock %s: lease expired: %w", ls.key, ErrNotHeld)
	}
	return nil
}

// Release revokes the lease, which deletes the key only if it is still attached to it: a lock
// that expired and was taken by somebody else is on their lease and stays.
func (ls *etcdLease) Release(ctx context.Context) error {
	ls.r.halt()
	if ls.r.isLost() {
		return fmt.Errorf("release lock %s: %w", ls.key, ErrNotHeld)
	}
	if err := ls.l.s.call(ctx, "/v3/lease/revoke", map[string]any{"ID": ls.id}, nil); err != nil {
		if strings.Contains(err.Error(), "lease not found") {
			ls.r.markLost()
			return fmt.Errorf("release lock %s: %w", ls.key, ErrNotHeld)
		}
		return fmt.Errorf("release lock %s: %w", ls.key, err)
	}
	return nil
}
