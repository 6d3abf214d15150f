package datastore

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

func TestKVStoreSharedBetweenRuns(t *testing.T) {
	js := jsSetup(t)
	ctx := t.Context()
	spec := protocol.StoreSpec{Name: "team"}
	a, err := Open(ctx, js, spec, "run1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, js, spec, "run2")
	if err != nil {
		t.Fatal(err)
	}
	value := map[string]any{"colour": "green", "replicas": float64(3), "tags": []any{"a", "b"}}
	if err := a.Put(ctx, "app/active", value); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "app/active")
	if err != nil || !reflect.DeepEqual(got, value) {
		t.Fatalf("run2 read %#v, %v; want %#v", got, err, value)
	}
	if err := b.Delete(ctx, "app/active"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "app/active"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete by run2, run1 read: %v", err)
	}
	if err := a.Delete(ctx, "never/written"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if err := a.Put(ctx, "bad key", "x"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("bad key: %v", err)
	}
}

func TestKVStoreReadsNonJSONAsString(t *testing.T) {
	js := jsSetup(t)
	kv, err := js.KeyValue(t.Context(), protocol.DataBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), "plain", []byte("hello world")); err != nil {
		t.Fatal(err)
	}
	st, err := Open(t.Context(), js, protocol.StoreSpec{Name: "d", Type: "kv"}, "r")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(t.Context(), "plain"); err != nil || v != "hello world" {
		t.Fatalf("got %#v, %v", v, err)
	}
}

func TestKVStoreMissingBucketIsRefused(t *testing.T) {
	js := jsSetup(t)
	_, err := Open(t.Context(), js, protocol.StoreSpec{Name: "d", Type: "kv", Properties: map[string]any{"bucket": "nope"}}, "r")
	if !errors.Is(err, ErrStoreSpec) || !strings.Contains(err.Error(), "property bucket") {
		t.Fatalf("got %v", err)
	}
}

// lockWait bounds waits that must succeed: generous, since nothing here asserts speed.
const lockWait = 20 * time.Second

// kvLockSpec is a kv store with the shortest lease, so expiry tests are quick.
var kvLockSpec = protocol.StoreSpec{Name: "team", Type: "kv", Properties: map[string]any{"ttl": 1}}

func newTestKVLocker(t *testing.T, js jetstream.JetStream, owner string) Locker {
	t.Helper()
	l, err := OpenLocker(t.Context(), js, kvLockSpec, owner)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// lockOwner is the owner recorded in a kv lock key.
func lockOwner(t *testing.T, js jetstream.JetStream, key string) (string, error) {
	kv, err := js.KeyValue(t.Context(), protocol.LocksBucket)
	if err != nil {
		return "", err
	}
	e, err := kv.Get(t.Context(), key)
	if err != nil {
		return "", err
	}
	var rec lockRecord
	err = json.Unmarshal(e.Value(), &rec)
	return rec.Owner, err
}

// lockHandover checks that b cannot take key while a holds it, and gets it once a releases it;
// it returns b's lease.
func lockHandover(t *testing.T, a, b Locker, key string) Lease {
	t.Helper()
	ctx := t.Context()
	la, err := a.Lock(ctx, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, key, time.Second); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second holder: got %v, want ErrLockTimeout", err)
	}
	type outcome struct {
		l   Lease
		err error
	}
	got := make(chan outcome, 1)
	go func() {
		l, err := b.Lock(ctx, key, lockWait)
		got <- outcome{l, err}
	}()
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	o := <-got
	if o.err != nil {
		t.Fatalf("after release: %v", o.err)
	}
	return o.l
}

func TestKVLockHoldersTakeTurns(t *testing.T) {
	js := jsSetup(t)
	a, b := newTestKVLocker(t, js, "run-a"), newTestKVLocker(t, js, "run-b")
	key := "choria/locks/playbook/deploy"
	la, err := a.Lock(t.Context(), key, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Lease, 1)
	errc := make(chan error, 1)
	go func() {
		lb, err := b.Lock(t.Context(), key, lockWait)
		if err != nil {
			errc <- err
			return
		}
		got <- lb
	}()
	// b must still be waiting while a holds the lock (renewed past several TTLs).
	natstest.Eventually(t, lockWait, func() error {
		kv, _ := js.KeyValue(t.Context(), protocol.LocksBucket)
		e, err := kv.Get(t.Context(), key)
		if err != nil {
			return err
		}
		if e.Revision() < 4 {
			return errors.New("not renewed three times yet")
		}
		return nil
	})
	select {
	case <-got:
		t.Fatal("second holder got the lock while the first held it")
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if owner, err := lockOwner(t, js, key); err != nil || owner != "run-a" {
		t.Fatalf("owner %q, %v", owner, err)
	}
	if err := la.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	var lb Lease
	select {
	case lb = <-got:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(lockWait):
		t.Fatal("second holder did not get the released lock")
	}
	if owner, err := lockOwner(t, js, key); err != nil || owner != "run-b" {
		t.Fatalf("owner %q, %v", owner, err)
	}
	if err := lb.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Released: a new holder takes it at once.
	lc, err := a.Lock(t.Context(), key, 0)
	if err != nil {
		t.Fatalf("after both released: %v", err)
	}
	_ = lc.Release(t.Context())
}

func TestKVLockWaitTimesOut(t *testing.T) {
	js := jsSetup(t)
	a, b := newTestKVLocker(t, js, "run-a"), newTestKVLocker(t, js, "run-b")
	la, err := a.Lock(t.Context(), "maint", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release(context.Background())
	if _, err := b.Lock(t.Context(), "maint", 1500*time.Millisecond); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("got %v, want ErrLockTimeout", err)
	}
	if _, err := b.Lock(t.Context(), "maint", 0); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("single attempt: got %v, want ErrLockTimeout", err)
	}
}

func TestKVLockOfCrashedHolderExpires(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	if err := kvstore.Provision(t.Context(), js, kvstore.Config{}); err != nil {
		t.Fatal(err)
	}
	// A release first, so the crashing holder's Create goes through the key's purge marker: the
	// lease TTL must survive that path too.
	l0, err := newTestKVLocker(t, js, "earlier").Lock(t.Context(), "deploy", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l0.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The holder has its own connection, closed to simulate its process dying.
	hnc, hjs := natstest.Connect(t, s.ClientURL())
	la, err := newTestKVLocker(t, hjs, "crashed").Lock(t.Context(), "deploy", 0)
	if err != nil {
		t.Fatal(err)
	}
	hnc.Close()
	lb, err := newTestKVLocker(t, js, "survivor").Lock(t.Context(), "deploy", lockWait)
	if err != nil {
		t.Fatalf("lock of a crashed holder never expired: %v", err)
	}
	defer lb.Release(context.Background())
	select {
	case <-la.Lost():
	case <-time.After(lockWait):
		t.Fatal("the crashed holder's lease was never declared lost")
	}
	if owner, err := lockOwner(t, js, "deploy"); err != nil || owner != "survivor" {
		t.Fatalf("owner %q, %v", owner, err)
	}
}

func TestKVLockReleaseByNonHolderRefused(t *testing.T) {
	js := jsSetup(t)
	la, err := newTestKVLocker(t, js, "paused").Lock(t.Context(), "deploy", 0)
	if err != nil {
		t.Fatal(err)
	}
	// A holder that stops renewing (paused, partitioned) loses the lock to the next one...
	la.(*kvLease).r.halt()
	lb, err := newTestKVLocker(t, js, "next").Lock(t.Context(), "deploy", lockWait)
	if err != nil {
		t.Fatal(err)
	}
	// ...and may not release it from under them when it wakes up.
	if err := la.Release(t.Context()); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("stale release: got %v, want ErrNotHeld", err)
	}
	if owner, err := lockOwner(t, js, "deploy"); err != nil || owner != "next" {
		t.Fatalf("after the stale release the owner is %q, %v", owner, err)
	}
	// Nor renew it.
	if err := la.(*kvLease).renew(t.Context()); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("stale renew: got %v, want ErrNotHeld", err)
	}
	if err := lb.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A run taken over by another coordinator takes its own locks back at once.
func TestKVLockSameOwnerAdopts(t *testing.T) {
	js := jsSetup(t)
	first, err := openKVLocker(t.Context(), js, 30*time.Second, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Lock(t.Context(), "adopted", 0); err != nil {
		t.Fatal(err)
	}
	again, err := openKVLocker(t.Context(), js, 30*time.Second, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	lease, err := again.Lock(t.Context(), "adopted", 0)
	if err != nil {
		t.Fatalf("the same owner could not take its lock back: %v", err)
	}
	other, err := openKVLocker(t.Context(), js, 30*time.Second, "run-2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Lock(t.Context(), "adopted", 0); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("another owner took a held lock: %v", err)
	}
	if err := lease.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Lock(t.Context(), "adopted", 0); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// reservedBucketNames are the names a kv data store may not use: every bucket fleetbook
// provisions (from kvstore's own list, so a new one is covered without editing this test) but the
// data bucket, and variants of the reserved prefix.
func reservedBucketNames() []string {
	var out []string
	for _, bc := range (kvstore.Config{}).Buckets() {
		if bc.Bucket != protocol.DataBucket {
			out = append(out, bc.Bucket)
		}
	}
	return append(out, "fleetbook_anything", "FLEETBOOK_secrets", "Fleetbook_runs", "fleetbook_")
}

// TestKVStoreRefusesFleetbookBuckets: a kv store (or a kv lock store) naming one of fleetbook's
// own buckets, or a name that is no bucket name, is refused before anything is opened, naming
// the bucket, even though the bucket exists and this connection could read it.
func TestKVStoreRefusesFleetbookBuckets(t *testing.T) {
	js := jsSetup(t)
	ctx := t.Context()
	for _, name := range reservedBucketNames() {
		spec := protocol.StoreSpec{Name: "s", Type: "kv", Properties: map[string]any{"bucket": name}}
		_, err := Open(ctx, js, spec, "r")
		if !errors.Is(err, protocol.ErrReservedBucket) || !errors.Is(err, ErrStoreSpec) || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("Open with bucket %s: %v", name, err)
		}
		if _, err := OpenLocker(ctx, js, spec, "r"); !errors.Is(err, protocol.ErrReservedBucket) {
			t.Errorf("OpenLocker with bucket %s: %v", name, err)
		}
		if err := Check(spec); !errors.Is(err, protocol.ErrReservedBucket) {
			t.Errorf("Check with bucket %s: %v", name, err)
		}
	}
	for _, name := range []string{"a.b", "a b", "a>", "*", "$KV", strings.Repeat("b", 201)} {
		spec := protocol.StoreSpec{Name: "s", Type: "kv", Properties: map[string]any{"bucket": name}}
		if _, err := Open(ctx, js, spec, "r"); !errors.Is(err, protocol.ErrInvalidBucket) {
			t.Errorf("Open with bucket %q: %v", name, err)
		}
	}
	// The default data bucket stays open to playbooks, named or not.
	for _, props := range []map[string]any{nil, {"bucket": protocol.DataBucket}} {
		if _, err := Open(ctx, js, protocol.StoreSpec{Name: "s", Type: "kv", Properties: props}, "r"); err != nil {
			t.Errorf("Open with %v: %v", props, err)
		}
	}
}
