package kvstore

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, SecretsKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func openSecretsFixture(t *testing.T, keys *Keyring) *Secrets {
	t.Helper()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	if err := Provision(t.Context(), js, Config{}); err != nil {
		t.Fatal(err)
	}
	sec, err := OpenSecrets(t.Context(), js, keys)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// Sealed, the stored record holds no value and no data key in clear; a rotation keeps old runs
// readable; a key not held, or a record altered or moved to another run, is refused by name.
func TestSecretsSealedRotatedAndTamperChecked(t *testing.T) {
	oldKey, newKeyBytes := newKey(t), newKey(t)
	oldRing, err := NewKeyring(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	sec := openSecretsFixture(t, oldRing)
	const value = "CANARY-sealed-value"
	if err := sec.Put(t.Context(), "run1", map[string]any{"pw": value, "n": 7.0}); err != nil {
		t.Fatal(err)
	}
	e, err := sec.kv.Get(t.Context(), "run1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e.Value(), []byte(value)) || !bytes.Contains(e.Value(), []byte(KeyID(oldKey))) {
		t.Fatalf("stored record %s", e.Value())
	}
	// Rotation: a coordinator sealing with the new key still opens what the old key sealed.
	rotated, err := NewKeyring(newKeyBytes, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&Secrets{kv: sec.kv, keys: rotated}).Get(t.Context(), "run1")
	if err != nil || got["pw"] != value || got["n"] != 7.0 {
		t.Fatalf("after rotation: %v %v", got, err)
	}
	onlyNew, _ := NewKeyring(newKeyBytes)
	for name, s := range map[string]*Secrets{"without the old key": {kv: sec.kv, keys: onlyNew}, "without any key": {kv: sec.kv}} {
		if _, err := s.Get(t.Context(), "run1"); !errors.Is(err, ErrSecretsKey) || strings.Contains(err.Error(), value) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The record moved under another run id: the data key is bound to its run.
	if _, err := sec.kv.Put(t.Context(), "run2", e.Value()); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.Get(t.Context(), "run2"); !errors.Is(err, ErrSecretsTampered) {
		t.Errorf("a record moved to another run: %v", err)
	}
	// One byte of ciphertext flipped.
	var rec secretsRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	rec.Values["pw"][len(rec.Values["pw"])-1] ^= 1
	tampered, _ := json.Marshal(rec)
	if _, err := sec.kv.Put(t.Context(), "run1", tampered); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.Get(t.Context(), "run1"); !errors.Is(err, ErrSecretsTampered) || !strings.Contains(err.Error(), "pw") {
		t.Errorf("tampered value: %v", err)
	}
	// A record of a release before envelopes, the bare map, is still read.
	if _, err := sec.kv.Put(t.Context(), "legacy", []byte(`{"pw":"old-value","version":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := sec.Get(t.Context(), "legacy"); err != nil || got["pw"] != "old-value" || got["version"] != "x" {
		t.Errorf("legacy record: %v %v", got, err)
	}
	if _, err := NewKeyring(make([]byte, 16)); !errors.Is(err, ErrInvalidSecretsKey) {
		t.Errorf("short key: %v", err)
	}
}

// A sealed data-store value comes back with its mark, opened; without a key it is marked only.
func TestSealValue(t *testing.T) {
	ring, _ := NewKeyring(newKey(t))
	for name, k := range map[string]*Keyring{"with a key": ring, "without a key": nil} {
		sealed, err := k.SealValue(map[string]any{"token": "CANARY-x"})
		if err != nil || !strings.HasPrefix(sealed, protocol.SealedPrefix) {
			t.Fatalf("%s: %q %v", name, sealed, err)
		}
		if k != nil && strings.Contains(sealed, "CANARY") {
			t.Errorf("%s: sealed text %q", name, sealed)
		}
		v, ok, err := k.OpenValue(sealed)
		if m, _ := v.(map[string]any); !ok || err != nil || m["token"] != "CANARY-x" {
			t.Errorf("%s: opened %v %v %v", name, v, ok, err)
		}
	}
	if v, ok, err := ring.OpenValue("plain text"); v != "plain text" || ok || err != nil {
		t.Errorf("plain value: %v %v %v", v, ok, err)
	}
	sealed, _ := ring.SealValue("x")
	// Replace the last two characters with others: a fixed "AA" would leave the value as it was
	// when its random tag happened to end in AA (one run in 4096).
	tail := "AA"
	if strings.HasSuffix(sealed, tail) {
		tail = "BB"
	}
	if _, ok, err := ring.OpenValue(sealed[:len(sealed)-2] + tail); !ok || !errors.Is(err, ErrSecretsTampered) {
		t.Errorf("tampered sealed value: %v %v", ok, err)
	}
}

// The price of sealing: one run's record of 4 values written and read back, with and without a
// master key, on an embedded server.
func BenchmarkSecretsPutGet(b *testing.B) {
	s := natstest.RunServer(b)
	_, js := natstest.Connect(b, s.ClientURL())
	if err := Provision(b.Context(), js, Config{}); err != nil {
		b.Fatal(err)
	}
	key := make([]byte, SecretsKeySize)
	ring, _ := NewKeyring(key)
	values := map[string]any{"a": "CANARY-a-value", "b": "another value", "c": 42.0, "d": []any{"x", "y"}}
	for name, keys := range map[string]*Keyring{"clear": nil, "sealed": ring} {
		b.Run(name, func(b *testing.B) {
			sec, err := OpenSecrets(b.Context(), js, keys)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("run%d-%s", i, name)
				if err := sec.Put(b.Context(), id, values); err != nil {
					b.Fatal(err)
				}
				if _, err := sec.Get(b.Context(), id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
