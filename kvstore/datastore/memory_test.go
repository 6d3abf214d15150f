package datastore

import (
	"errors"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

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
	if _, err := r1b.Get(ctx, "step/out"); !errors.Is(err, ErrNotFound) {
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
