package datastore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// DefaultLockTimeout is how long a lock is waited for when the store's timeout property does not
// say: Choria's 120 seconds.
const DefaultLockTimeout = 120 * time.Second

// CanLock reports whether stores of type typ can hold locks. A playbook that locks on any other
// type must be refused before it runs, with LockUnsupported's message.
func CanLock(typ string) bool {
	switch storeType(typ) {
	case TypeKV, TypeEtcd, TypeConsul:
		return true
	}
	return false
}

// LockUnsupported is the error for a lock on store name of type typ, or nil if that type locks.
func LockUnsupported(name, typ string) error {
	if CanLock(typ) {
		return nil
	}
	return fmt.Errorf("%w: data store %s has type %s; only kv, etcd and consul stores can hold locks", ErrLockUnsupported, name, storeType(typ))
}

// LockWait is how long locks on the store spec declares are waited for: its timeout property,
// DefaultLockTimeout when absent.
func LockWait(spec protocol.StoreSpec) (time.Duration, error) {
	_, cfg, err := parseSpec(spec)
	if err != nil {
		return 0, err
	}
	return cfg.lockWait, nil
}

// Locker takes locks in one data store.
type Locker interface {
	// Lock takes the lock named key, waiting up to wait for its holder to release it (0: one
	// attempt), and fails with ErrLockTimeout when it stays held. The lease is renewed in the
	// background until released, or until a renewal finds it lost.
	Lock(ctx context.Context, key string, wait time.Duration) (Lease, error)
}

// Lease is a held lock.
type Lease interface {
	// Key is the lock's key in its store.
	Key() string
	// Lost is closed when the lease was found no longer ours (renewals failed for a whole TTL, or
	// somebody else holds it now); the work it protects should stop.
	Lost() <-chan struct{}
	// Release stops the renewals and frees the lock, only if it is still ours: a lease that
	// expired and was taken by somebody else is left alone and ErrNotHeld is returned.
	Release(ctx context.Context) error
}

// OpenLocker builds the locker of the store spec declares; owner (the run id) is recorded in the
// locks it takes so an operator can see who holds one. A type that cannot lock is refused with
// ErrLockUnsupported, naming the store.
func OpenLocker(ctx context.Context, js jetstream.JetStream, spec protocol.StoreSpec, owner string) (Locker, error) {
	if err := LockUnsupported(spec.Name, spec.Type); err != nil {
		return nil, err
	}
	typ, cfg, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	switch typ {
	case TypeKV:
		return openKVLocker(ctx, js, cfg.ttl, owner)
	case TypeEtcd:
		return newEtcdStore(cfg.backend.(*etcdConfig), cfg).locker(owner), nil
	case TypeConsul:
		return newConsulStore(cfg.backend.(*consulConfig), cfg).locker(owner), nil
	}
	return nil, LockUnsupported(spec.Name, typ)
}

// lockRecord is the value of a lock key: who holds it, for operators.
type lockRecord struct {
	Owner    string    `json:"owner"`
	Acquired time.Time `json:"acquired"`
}

// renewer keeps a lease alive: it calls renew every interval until stopped, and declares the
// lease lost when renew reports it taken, or has failed for longer than ttl.
type renewer struct {
	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// startRenewer runs renew in the background. renew returns ErrNotHeld when the lease is gone for
// good; other errors are retried until ttl has passed since the last success.
func startRenewer(ttl time.Duration, renew func(ctx context.Context) error) *renewer {
	r := &renewer{lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	interval := ttl / 3
	go func() {
		defer close(r.done)
		last := time.Now()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			err := renew(ctx)
			cancel()
			switch {
			case err == nil:
				last = time.Now()
			case errors.Is(err, ErrNotHeld), time.Since(last) >= ttl:
				r.markLost()
				return
			}
		}
	}()
	return r
}

func (r *renewer) markLost() { r.lostOnce.Do(func() { close(r.lost) }) }

// halt stops the renewals and waits for the renewing goroutine, so no renewal races the release.
func (r *renewer) halt() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

// isLost reports whether the lease was declared lost.
func (r *renewer) isLost() bool {
	select {
	case <-r.lost:
		return true
	default:
		return false
	}
}

// lockTimeout is the error for key still held after wait.
func lockTimeout(key string, wait time.Duration) error {
	return fmt.Errorf("%w: %s still held by another holder after %s", ErrLockTimeout, key, wait)
}

// lockPoll is how often a busy etcd or Consul lock is tried again.
const lockPoll = 500 * time.Millisecond

// pollUntil calls try every interval until it reports done or wait has passed; it returns false
// on timeout.
func pollUntil(ctx context.Context, wait, interval time.Duration, try func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		done, err := try()
		if err != nil || done {
			return done, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}
