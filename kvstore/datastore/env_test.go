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

// An environment store writes the environment of the process running the task, which every
// later task of every run it executes inherits: loader variables, fleetbook's own settings and
// the process's NATS credentials may not be set, and the credentials may not be read.
func TestEnvironmentStoreKeepsOffTheProcessEnvironment(t *testing.T) {
	st, err := Open(t.Context(), nil, protocol.StoreSpec{Name: "pb_env", Type: "environment"}, "r")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	t.Setenv("NATS_PASSWORD", "s3cret")
	t.Setenv("LD_PRELOAD", "")
	for _, name := range []string{"PATH", "LD_PRELOAD", "BASH_ENV", "PYTHONPATH", "NATS_URL", "NATS_CREDS", "FLEETBOOK_PUPPETDB_URL"} {
		before, had := os.LookupEnv(name)
		if err := st.Put(ctx, name, "/tmp/evil"); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put %s: %v, want ErrInvalidKey", name, err)
		}
		if err := st.Delete(ctx, name); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete %s: %v, want ErrInvalidKey", name, err)
		}
		if after, has := os.LookupEnv(name); after != before || has != had {
			t.Errorf("%s changed: %q -> %q", name, before, after)
		}
	}
	if v, err := st.Get(ctx, "NATS_PASSWORD"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Get NATS_PASSWORD: %v %v, want ErrInvalidKey", v, err)
	}
	prefixed, err := Open(t.Context(), nil, protocol.StoreSpec{Name: "pb_env", Type: "environment", Properties: map[string]any{"prefix": "LD_"}}, "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := prefixed.Put(ctx, "PRELOAD", "/tmp/evil.so"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Put PRELOAD with prefix LD_: %v, want ErrInvalidKey", err)
	}
}
