package kvstore

import (
	"errors"
	"reflect"
	"strings"
	"testing"

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
	if _, err := a.Get(ctx, "app/active"); !errors.Is(err, ErrKeyNotFound) {
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

func TestMemoryStoreIsRunScoped(t *testing.T) {
	js := jsSetup(t)
	ctx := t.Context()
	spec := protocol.StoreSpec{Name: "scratch", Type: "memory"}
	r1a, _ := Open(ctx, js, spec, "run1")
	r1b, _ := Open(ctx, js, spec, "run1") // another worker of the same run
	r2, err := Open(ctx, js, spec, "run2")
	if err != nil {
		t.Fatal(err)
	}
	if err := r1a.Put(ctx, "step/out", "one"); err != nil {
		t.Fatal(err)
	}
	if err := r2.Put(ctx, "step/out", "two"); err != nil {
		t.Fatal(err)
	}
	if v, err := r1b.Get(ctx, "step/out"); err != nil || v != "one" {
		t.Fatalf("same run read %#v, %v", v, err)
	}
	if err := DropRunMemory(ctx, js, "run1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r1b.Get(ctx, "step/out"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("after the run ended: %v", err)
	}
	if v, err := r2.Get(ctx, "step/out"); err != nil || v != "two" {
		t.Fatalf("other run's memory after drop: %#v, %v", v, err)
	}
	if err := DropRunMemory(ctx, js, "run1"); err != nil {
		t.Fatalf("second drop: %v", err)
	}
	if err := DropRunMemory(ctx, js, "a.b"); err == nil {
		t.Fatal("drop with a bad run id accepted")
	}
}
