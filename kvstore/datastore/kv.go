package datastore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// kvConfig is a kv store's configuration.
type kvConfig struct {
	bucket string
}

func parseKV(p *props) (*kvConfig, error) {
	b, err := p.str("bucket", protocol.DataBucket)
	if err != nil {
		return nil, err
	}
	// Checked here, on every parse of the spec, so that Open refuses a bucket whose name was
	// rendered at run time as validation refuses a literal one.
	if err := protocol.CheckDataBucket(b); err != nil {
		return nil, fmt.Errorf("%w: data store %s: property bucket: %w", ErrStoreSpec, p.store, err)
	}
	return &kvConfig{bucket: b}, nil
}

// validKVKey reports whether key may be a JetStream KV key: letters, digits and -/_=. with no
// empty dot-separated token.
func validKVKey(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' {
		return false
	}
	prev := rune(0)
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '/' || r == '_' || r == '=' || r == '.') {
			return false
		}
		if r == '.' && prev == '.' {
			return false
		}
		prev = r
	}
	return true
}

func checkKVKey(key string) error {
	if !validKVKey(key) {
		return fmt.Errorf("%w: %q (kv keys are letters, digits and - / _ = ., not starting or ending with .)", ErrInvalidKey, key)
	}
	return nil
}

// kvStore keeps JSON values in a JetStream KV bucket under prefix+key.
type kvStore struct {
	kv     jetstream.KeyValue
	prefix string
}

func openKV(ctx context.Context, js jetstream.JetStream, name string, cfg *config) (*kvStore, error) {
	if js == nil {
		return nil, fmt.Errorf("data store %s: kv stores need a JetStream connection", name)
	}
	kc := cfg.backend.(*kvConfig)
	kv, err := js.KeyValue(ctx, kc.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		// Not created on the fly: a typo in the bucket name must not silently start a new store.
		return nil, fmt.Errorf("%w: data store %s: property bucket: bucket %q does not exist", ErrStoreSpec, name, kc.bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("data store %s: open bucket %s: %w", name, kc.bucket, err)
	}
	return &kvStore{kv: kv}, nil
}

// Get decodes the JSON value under key. A value that is not JSON (written by another tool) is
// returned as a string.
func (s *kvStore) Get(ctx context.Context, key string) (any, error) {
	if err := checkKVKey(key); err != nil {
		return nil, err
	}
	e, err := s.kv.Get(ctx, s.prefix+key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, fmt.Errorf("read %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var v any
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return string(e.Value()), nil
	}
	return v, nil
}

// Put stores value as JSON.
func (s *kvStore) Put(ctx context.Context, key string, value any) error {
	if err := checkKVKey(key); err != nil {
		return err
	}
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("write %s: value cannot be encoded as JSON: %w", key, err)
	}
	if _, err := s.kv.Put(ctx, s.prefix+key, b); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// Delete leaves a delete marker, so watchers see the deletion.
func (s *kvStore) Delete(ctx context.Context, key string) error {
	if err := checkKVKey(key); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, s.prefix+key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// kvLocker takes locks as keys of protocol.LocksBucket, each created with a per-key TTL (the
// lease) and renewed by republishing it with a compare-and-set on its last sequence. A holder
// that dies stops renewing and its key expires after the TTL; the server then writes a marker
// that wakes the waiters' watches.
type kvLocker struct {
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	ttl   time.Duration
	owner string
}

func openKVLocker(ctx context.Context, js jetstream.JetStream, ttl time.Duration, owner string) (*kvLocker, error) {
	if js == nil {
		return nil, errors.New("kv locks need a JetStream connection")
	}
	kv, err := js.KeyValue(ctx, protocol.LocksBucket)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", protocol.LocksBucket, err)
	}
	return &kvLocker{js: js, kv: kv, ttl: ttl, owner: owner}, nil
}

// Lock creates the lock key. While it exists it watches the key and tries again on every delete
// or purge (release or expiry), rather than polling.
func (l *kvLocker) Lock(ctx context.Context, key string, wait time.Duration) (Lease, error) {
	if err := checkKVKey(key); err != nil {
		return nil, err
	}
	data, err := json.Marshal(lockRecord{Owner: l.owner, Acquired: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	rev, err := l.kv.Create(ctx, key, data, jetstream.KeyTTL(l.ttl))
	if err == nil {
		return l.lease(key, data, rev), nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if ls := l.adopt(ctx, key, data); ls != nil {
		return ls, nil
	}
	if wait <= 0 {
		return nil, lockTimeout(key, wait)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	// The watch starts before the next attempt, so a release between a failed attempt and the
	// wait cannot be missed.
	w, err := l.kv.Watch(wctx, key, jetstream.MetaOnly())
	if err != nil {
		return nil, fmt.Errorf("lock %s: watch: %w", key, err)
	}
	defer w.Stop()
	for {
		rev, err := l.kv.Create(ctx, key, data, jetstream.KeyTTL(l.ttl))
		if err == nil {
			return l.lease(key, data, rev), nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		if err := waitFree(wctx, w, l.ttl); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
			}
			return nil, lockTimeout(key, wait)
		}
	}
}

// adopt takes over a lock its owner already holds: a run taken over by another coordinator finds
// its locks held under its own name by the coordinator that died, and goes on holding them
// instead of waiting for their leases to expire. Ownership of the run itself is fenced by the
// run record, so two holders of one owner cannot both act.
func (l *kvLocker) adopt(ctx context.Context, key string, data []byte) *kvLease {
	e, err := l.kv.Get(ctx, key)
	if err != nil {
		return nil
	}
	var held lockRecord
	if json.Unmarshal(e.Value(), &held) != nil || held.Owner != l.owner {
		return nil
	}
	return l.lease(key, data, e.Revision())
}

// waitFree waits for the watched key to be deleted or purged, or for one TTL to pass: a lease
// expiring without a marker (a server that lost it) then still gets a fresh attempt.
func waitFree(ctx context.Context, w jetstream.KeyWatcher, ttl time.Duration) error {
	t := time.NewTimer(ttl)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e != nil && e.Operation() != jetstream.KeyValuePut {
				return nil
			}
		}
	}
}

// kvLease is a held kv lock; rev is the sequence of its last write, the CAS fence of renewals and
// of the release.
type kvLease struct {
	l    *kvLocker
	key  string
	data []byte
	mu   sync.Mutex
	rev  uint64
	r    *renewer
}

func (l *kvLocker) lease(key string, data []byte, rev uint64) *kvLease {
	ls := &kvLease{l: l, key: key, data: data, rev: rev}
	ls.r = startRenewer(l.ttl, ls.renew)
	return ls
}

func (ls *kvLease) Key() string            { return ls.key }
func (ls *kvLease) Lost() <-chan struct{}  { return ls.r.lost }
func (ls *kvLease) subject() string        { return protocol.BucketSubject(protocol.LocksBucket, ls.key) }
func (ls *kvLease) revision() uint64       { ls.mu.Lock(); defer ls.mu.Unlock(); return ls.rev }
func (ls *kvLease) setRevision(rev uint64) { ls.mu.Lock(); ls.rev = rev; ls.mu.Unlock() }

// renew republishes the lock with a fresh TTL. KV Update cannot carry a TTL, so it is a publish to
// the key's subject expecting our last sequence: if the key changed (expired and taken), the
// publish is refused and the lease is lost.
func (ls *kvLease) renew(ctx context.Context) error {
	ack, err := ls.l.js.Publish(ctx, ls.subject(), ls.data,
		jetstream.WithExpectLastSequencePerSubject(ls.revision()),
		jetstream.WithMsgTTL(ls.l.ttl))
	if err != nil {
		if wrongLastSequence(err) {
			return fmt.Errorf("renew lock %s: %w", ls.key, ErrNotHeld)
		}
		return err
	}
	ls.setRevision(ack.Sequence)
	return nil
}

// Release purges the key if it is still at our revision; the purge marker expires with the TTL so
// released locks leave nothing behind.
func (ls *kvLease) Release(ctx context.Context) error {
	ls.r.halt()
	if ls.r.isLost() {
		return fmt.Errorf("release lock %s: %w", ls.key, ErrNotHeld)
	}
	err := ls.l.kv.Purge(ctx, ls.key, jetstream.LastRevision(ls.revision()), jetstream.PurgeTTL(ls.l.ttl))
	if wrongLastSequence(err) {
		ls.r.markLost()
		return fmt.Errorf("release lock %s: %w", ls.key, ErrNotHeld)
	}
	if err != nil {
		return fmt.Errorf("release lock %s: %w", ls.key, err)
	}
	return nil
}

// wrongLastSequence reports a lost compare-and-set on a subject's last sequence (10164 is the
// code replicated streams use).
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}
