package datastore

import (
	"errors"
	"os"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

func TestEnvironmentStore(t *testing.T) {
	st, err := Open(t.Context(), nil, protocol.StoreSpec{Name: "pb_env", Type: "environment", Properties: map[string]any{"prefix": "PBTEST_"}}, "r")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	t.Setenv("PBTEST_COLOUR", "")
	os.Unsetenv("PBTEST_COLOUR")
	if _, err := st.Get(ctx, "COLOUR"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unset: %v", err)
	}
	if err := st.Put(ctx, "COLOUR", "green"); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("PBTEST_COLOUR") != "green" {
		t.Fatal("the prefixed variable was not set")
	}
	if err := st.Put(ctx, "COLOUR", map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(ctx, "COLOUR"); err != nil || v != `{"n":1}` {
		t.Fatalf("structured value: %#v, %v", v, err)
	}
	if err := st.Delete(ctx, "COLOUR"); err != nil {
		t.Fatal(err)
	}
	if _, ok := os.LookupEnv("PBTEST_COLOUR"); ok {
		t.Fatal("variable still set after delete")
	}
	if err := st.Put(ctx, "A=B", "x"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("key with '=': %v", err)
	}
}
