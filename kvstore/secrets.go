package kvstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// SecretsKeySize is the length of a master key: AES-256.
const SecretsKeySize = 32

// secretsRecordVersion is the version of the record Secrets stores per run.
const secretsRecordVersion = 1

// Keyring holds the master keys that seal sensitive values (envelope encryption): the current
// key seals, every key opens, so a new master key can be put in service while runs sealed with
// the previous one finish. Each key is known by its id (KeyID), which every sealed record
// carries. A nil *Keyring is valid: it seals nothing, and values are stored in clear (for tests
// and libraries that give no key; the fleetbook commands always give one).
type Keyring struct {
	current string
	keys    map[string]cipher.AEAD
}

// NewKeyring returns a keyring sealing with current and opening with current and every retired
// key. Each key must be SecretsKeySize bytes.
func NewKeyring(current []byte, retired ...[]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, retired...) {
		if len(key) != SecretsKeySize {
			return nil, fmt.Errorf("%w: key %d is %d bytes, need %d", ErrInvalidSecretsKey, i, len(key), SecretsKeySize)
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		k.keys[id] = aead
	}
	return k, nil
}

// KeyID names a master key without revealing it: the first 8 bytes of a domain-separated
// SHA-256 of the key, in hex. Records carry it so the right key opens them after a rotation.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("fleetbook secrets key id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// CurrentKeyID is the id of the key that seals; "" for a nil keyring.
func (k *Keyring) CurrentKeyID() string {
	if k == nil {
		return ""
	}
	return k.current
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSecretsKey, err)
	}
	return cipher.NewGCM(block)
}

// seal encrypts plain with aead under a random nonce; the nonce leads the output.
func seal(aead cipher.AEAD, plain, ad []byte) []byte {
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on a supported platform
	}
	return aead.Seal(nonce, nonce, plain, ad)
}

// open reverses seal; any failure is ErrSecretsTampered (the cipher's own error says no more).
func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, ErrSecretsTampered
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrSecretsTampered
	}
	return plain, nil
}

// aead returns the key of id, or ErrSecretsKey.
func (k *Keyring) aead(id string) (cipher.AEAD, error) {
	if k != nil {
		if a, ok := k.keys[id]; ok {
			return a, nil
		}
	}
	return nil, fmt.Errorf("%w (key id %q)", ErrSecretsKey, id)
}

// secretsRecord is what Secrets stores under a run id. With a master key, DataKey is the run's
// data key sealed with master key KeyID (the run id as additional data) and each value is its
// JSON sealed with the data key (run id + "/" + name as additional data); Plain is used only
// without a master key.
type secretsRecord struct {
	Version int               `json:"version"`
	KeyID   string            `json:"key_id,omitempty"`
	DataKey []byte            `json:"data_key,omitempty"`
	Values  map[string][]byte `json:"values,omitempty"`
	Plain   map[string]any    `json:"plain,omitempty"`
}

// Secrets keeps the sensitive values of unfinished runs, one record per run id, so that run
// records and jobs carry only references to them (see protocol.SecretRef). With a keyring the
// record holds only ciphertext: purging it when the run ends destroys the run's data key, so a
// copy of the record left in a stream's block file cannot be opened without the master key.
type Secrets struct {
	kv   jetstream.KeyValue
	keys *Keyring
}

// OpenSecrets binds to the secrets bucket, which Provision must have created. keys may be nil:
// values are then stored in clear.
func OpenSecrets(ctx context.Context, js jetstream.JetStream, keys *Keyring) (*Secrets, error) {
	kv, err := openBucket(ctx, js, protocol.SecretsBucket, nil)
	if err != nil {
		return nil, err
	}
	return &Secrets{kv: kv, keys: keys}, nil
}

// Put stores run id's secret values, replacing any stored before. A run keeps its data key
// across writes while the record exists and its master key is held.
func (s *Secrets) Put(ctx context.Context, runID string, values map[string]any) error {
	rec := secretsRecord{Version: secretsRecordVersion}
	if s.keys == nil {
		rec.Plain = values
	} else {
		dk, err := s.dataKey(ctx, runID)
		if err != nil {
			return err
		}
		master, _ := s.keys.aead(s.keys.current)
		rec.KeyID, rec.DataKey = s.keys.current, seal(master, dk, []byte(runID))
		aead, err := newAEAD(dk)
		if err != nil {
			return err
		}
		rec.Values = make(map[string][]byte, len(values))
		for name, v := range values {
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encode sensitive value %s of run %s: %w", name, runID, err)
			}
			rec.Values[name] = seal(aead, b, valueAD(runID, name))
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode secrets of run %s: %w", runID, err)
	}
	_, err = s.kv.Put(ctx, runID, b)
	return translate("store secrets of run", runID, err)
}

// dataKey is the data key of run id's stored record, or a new random one when there is none (or
// it was sealed with a key that has been retired since).
func (s *Secrets) dataKey(ctx context.Context, runID string) ([]byte, error) {
	rec, err := s.record(ctx, runID)
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.KeyID == s.keys.current {
		if dk, err := s.openDataKey(runID, rec); err == nil {
			return dk, nil
		}
	}
	dk := make([]byte, SecretsKeySize)
	if _, err := rand.Read(dk); err != nil {
		return nil, fmt.Errorf("make a data key: %w", err)
	}
	return dk, nil
}

func (s *Secrets) openDataKey(runID string, rec *secretsRecord) ([]byte, error) {
	master, err := s.keys.aead(rec.KeyID)
	if err != nil {
		return nil, err
	}
	dk, err := open(master, rec.DataKey, []byte(runID))
	if err != nil {
		return nil, fmt.Errorf("data key of run %s: %w", runID, err)
	}
	return dk, nil
}

func valueAD(runID, name string) []byte { return []byte(runID + "/" + name) }

// record reads run id's record; none stored is nil.
func (s *Secrets) record(ctx context.Context, runID string) (*secretsRecord, error) {
	e, err := s.kv.Get(ctx, runID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, translate("read secrets of run", runID, err)
	}
	var rec secretsRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.Version == 0 {
		// Written by a release before envelopes (a run in flight across the upgrade): the bare
		// map of values, in clear.
		var plain map[string]any
		if err := json.Unmarshal(e.Value(), &plain); err != nil {
			return nil, fmt.Errorf("decode secrets of run %s: %w", runID, err)
		}
		return &secretsRecord{Version: secretsRecordVersion, Plain: plain}, nil
	}
	if rec.Version != secretsRecordVersion {
		return nil, fmt.Errorf("secrets of run %s: record version %d is not supported (this process reads %d)", runID, rec.Version, secretsRecordVersion)
	}
	return &rec, nil
}

// Get returns run id's secret values, opened; none stored is an empty map. A record sealed with
// a key this process lacks is ErrSecretsKey; one that fails authentication is
// ErrSecretsTampered. Errors name the run and the input, never a value.
func (s *Secrets) Get(ctx context.Context, runID string) (map[string]any, error) {
	rec, err := s.record(ctx, runID)
	if err != nil || rec == nil {
		return map[string]any{}, err
	}
	if rec.KeyID == "" {
		if rec.Plain == nil {
			return map[string]any{}, nil
		}
		return rec.Plain, nil
	}
	dk, err := s.openDataKey(runID, rec)
	if err != nil {
		return nil, fmt.Errorf("secrets of run %s: %w", runID, err)
	}
	aead, err := newAEAD(dk)
	if err != nil {
		return nil, err
	}
	values := make(map[string]any, len(rec.Values))
	for name, sealed := range rec.Values {
		b, err := open(aead, sealed, valueAD(runID, name))
		if err != nil {
			return nil, fmt.Errorf("sensitive value %s of run %s: %w", name, runID, err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("decode sensitive value %s of run %s: %w", name, runID, err)
		}
		values[name] = v
	}
	return values, nil
}

// Delete forgets run id's secret values, history included: with a keyring this destroys the
// run's data key.
func (s *Secrets) Delete(ctx context.Context, runID string) error {
	err := s.kv.Purge(ctx, runID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return translate("delete secrets of run", runID, err)
}

// sealedValueAD binds a sealed data-store value to its purpose, so no other sealed text of
// fleetbook can be passed off as one.
var sealedValueAD = []byte("fleetbook data store value v1")

// SealValue wraps v, a value derived from a sensitive input that is about to be written to a
// data store, so that reading it back brings back that it is sensitive (protocol.SealedPrefix).
// With a master key the value is encrypted (AES-256-GCM under the current key); without one it
// is only marked.
func (k *Keyring) SealValue(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode a sensitive value to store: %w", err)
	}
	if k == nil {
		return protocol.SealedPrefix + "plain:" + base64.RawURLEncoding.EncodeToString(b), nil
	}
	master, _ := k.aead(k.current)
	return protocol.SealedPrefix + k.current + ":" + base64.RawURLEncoding.EncodeToString(seal(master, b, sealedValueAD)), nil
}

// OpenValue reverses SealValue: for a value SealValue made it returns the original and true; any
// other value is returned as it is, with false. A sealed value it cannot open is an error
// (ErrSecretsKey, ErrSecretsTampered), with true.
func (k *Keyring) OpenValue(v any) (any, bool, error) {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, protocol.SealedPrefix) {
		return v, false, nil
	}
	id, body, ok := strings.Cut(s[len(protocol.SealedPrefix):], ":")
	if !ok {
		return nil, true, ErrSecretsTampered
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, true, ErrSecretsTampered
	}
	if id != "plain" {
		master, err := k.aead(id)
		if err != nil {
			return nil, true, err
		}
		if raw, err = open(master, raw, sealedValueAD); err != nil {
			return nil, true, err
		}
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, true, ErrSecretsTampered
	}
	return out, true, nil
}
