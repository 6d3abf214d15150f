package datastore

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// jsSetup starts a server with every fleetbook stream and bucket provisioned.
func jsSetup(t *testing.T) jetstream.JetStream {
	t.Helper()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	if err := kvstore.Provision(t.Context(), js, kvstore.Config{}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return js
}

// specWith is a store spec with base properties, overridden by extra.
func specWith(name, typ string, base, extra map[string]any) protocol.StoreSpec {
	for k, v := range extra {
		base[k] = v
	}
	return protocol.StoreSpec{Name: name, Type: typ, Properties: base}
}

// storeContract checks what every store promises: a missing key is ErrNotFound, a value
// written is read back (as text by the stores that keep strings), a delete removes it, and
// deleting a missing key is not an error. key must be valid for every store.
func storeContract(t *testing.T, st Store, key string) {
	t.Helper()
	ctx := t.Context()
	if _, err := st.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: got %v, want ErrNotFound", err)
	}
	if err := st.Put(ctx, key, "green"); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(ctx, key); err != nil || v != "green" {
		t.Fatalf("read back %#v, %v", v, err)
	}
	if err := st.Put(ctx, key, "blue"); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(ctx, key); err != nil || v != "blue" {
		t.Fatalf("read back after overwrite %#v, %v", v, err)
	}
	if err := st.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: got %v, want ErrNotFound", err)
	}
	if err := st.Delete(ctx, key); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

func TestStoreContract(t *testing.T) {
	js := jsSetup(t)
	for _, spec := range []protocol.StoreSpec{
		{Name: "kv", Type: "kv"},
		{Name: "memory", Type: "memory"},
		{Name: "env", Type: "environment", Properties: map[string]any{"prefix": "FBTEST_CONTRACT_"}},
		{Name: "json", Type: "file", Properties: map[string]any{"file": filepath.Join(t.TempDir(), "d.json"), "create": true}},
		{Name: "yaml", Type: "file", Properties: map[string]any{"file": filepath.Join(t.TempDir(), "d.yml"), "create": true}},
	} {
		t.Run(spec.Name, func(t *testing.T) {
			st, err := Open(t.Context(), js, spec, "run1")
			if err != nil {
				t.Fatal(err)
			}
			storeContract(t, st, "app_colour")
		})
	}
}

func TestCheckRefusesBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    protocol.StoreSpec
		wantErr string
	}{
		{"unknown type", protocol.StoreSpec{Name: "s", Type: "redis"}, `property type: unknown type "redis"`},
		{"unknown property", protocol.StoreSpec{Name: "s", Type: "kv", Properties: map[string]any{"buckt": "x"}}, "property buckt: unknown property"},
		{"bad bucket", protocol.StoreSpec{Name: "s", Type: "kv", Properties: map[string]any{"bucket": "a.b"}}, "property bucket"},
		{"bucket not a string", protocol.StoreSpec{Name: "s", Type: "kv", Properties: map[string]any{"bucket": 3}}, "property bucket: must be a string"},
		{"file without file", protocol.StoreSpec{Name: "s", Type: "file"}, "property file: is required"},
		{"file without format", protocol.StoreSpec{Name: "s", Type: "file", Properties: map[string]any{"file": "/tmp/x.txt"}}, "property format: is required"},
		{"file bad format", protocol.StoreSpec{Name: "s", Type: "file", Properties: map[string]any{"file": "/tmp/x", "format": "toml"}}, "property format: must be json or yaml"},
		{"file create not bool", protocol.StoreSpec{Name: "s", Type: "file", Properties: map[string]any{"file": "/tmp/x.json", "create": "yes"}}, "property create: must be a boolean"},
		{"shell without command", protocol.StoreSpec{Name: "s", Type: "shell"}, "property command: is required"},
		{"shell env not strings", protocol.StoreSpec{Name: "s", Type: "shell", Properties: map[string]any{"command": "/bin/true", "environment": map[string]any{"A": 1}}}, "property environment.A: must be a string"},
		{"etcd bad url", protocol.StoreSpec{Name: "s", Type: "etcd", Properties: map[string]any{"url": "etcd:2379"}}, "property url"},
		{"etcd password without user", protocol.StoreSpec{Name: "s", Type: "etcd", Properties: map[string]any{"password": "p"}}, "property user"},
		{"consul ttl too short", protocol.StoreSpec{Name: "s", Type: "consul", Properties: map[string]any{"ttl": 5}}, "property ttl: 5s is below the minimum of 10s"},
		{"kv ttl garbage", protocol.StoreSpec{Name: "s", Type: "kv", Properties: map[string]any{"ttl": "soon"}}, "property ttl"},
		{"environment prefix not string", protocol.StoreSpec{Name: "s", Type: "environment", Properties: map[string]any{"prefix": true}}, "property prefix"},
		{"memory takes no properties", protocol.StoreSpec{Name: "s", Type: "memory", Properties: map[string]any{"size": 3}}, "property size: unknown property"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.spec)
			if !errors.Is(err, ErrStoreSpec) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "data store s") {
				t.Fatalf("got %v, want ErrStoreSpec naming store s and %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckAcceptsChoriaDocuments(t *testing.T) {
	// The data_stores entries of Choria's documentation (compat docs-fragments data-01..09).
	for _, spec := range []protocol.StoreSpec{
		{Name: "local_consul", Type: "consul", Properties: map[string]any{"timeout": 120, "ttl": 60}},
		{Name: "pb_memory", Type: "memory"},
		{Name: "pb_env", Type: "environment", Properties: map[string]any{"prefix": "PB_"}},
		{Name: "pb_yaml", Type: "file", Properties: map[string]any{"file": "~/pb_data.yaml", "format": "yaml", "create": true}},
		{Name: "pb_etcd", Type: "etcd", Properties: map[string]any{"url": "http://etcd.example.net:2379", "user": "admin", "password": "secret"}},
		{Name: "pb_shell", Type: "shell", Properties: map[string]any{"command": "/path/to/store.sh", "timeout": 20, "cwd": "/path/to", "environment": map[string]any{"EXAMPLE": "VALUE"}}},
		{Name: "default", Properties: map[string]any{"bucket": "fleetbook_data", "timeout": "30s", "ttl": 2.5}},
	} {
		if err := Check(spec); err != nil {
			t.Errorf("%s: %v", spec.Name, err)
		}
	}
}
