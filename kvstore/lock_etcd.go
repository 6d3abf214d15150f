package kvstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// lockPoll is how often a busy etcd or Consul lock is tried again.
const lockPoll = 500 * time.Millisecond

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
