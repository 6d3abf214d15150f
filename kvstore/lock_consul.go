package kvstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

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
