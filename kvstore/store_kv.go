package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	if !validBucket(b) {
		return nil, p.errf("bucket", "%q is not a valid bucket name (letters, digits, - and _)", b)
	}
	return &kvConfig{bucket: b}, nil
}

func validBucket(b string) bool {
	if b == "" {
		return false
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
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
		return nil, fmt.Errorf("read %s: %w", key, ErrKeyNotFound)
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

// openMemory binds a run-scoped store: kv semantics in protocol.MemoryBucket under the run id.
func openMemory(ctx context.Context, js jetstream.JetStream, runID string) (*kvStore, error) {
	if js == nil {
		return nil, errors.New("memory stores need a JetStream connection")
	}
	if !protocol.ValidToken(runID) {
		return nil, fmt.Errorf("memory store: run id %q is not a valid subject token", runID)
	}
	kv, err := js.KeyValue(ctx, protocol.MemoryBucket)
	if err != nil {
		return nil, fmt.Errorf("memory store: open bucket %s: %w", protocol.MemoryBucket, err)
	}
	return &kvStore{kv: kv, prefix: runID + "."}, nil
}

// DropRunMemory removes every key the memory stores of run runID hold. The coordinator calls it
// when the run ends; it is idempotent.
func DropRunMemory(ctx context.Context, js jetstream.JetStream, runID string) error {
	if !protocol.ValidToken(runID) {
		return fmt.Errorf("drop run memory: run id %q is not a valid subject token", runID)
	}
	st, err := js.Stream(ctx, protocol.BucketStreamName(protocol.MemoryBucket))
	if err != nil {
		return fmt.Errorf("drop run memory of %s: %w", runID, err)
	}
	// One purge by subject removes the values, their history and their delete markers alike.
	subject := protocol.BucketSubject(protocol.MemoryBucket, runID+".>")
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return fmt.Errorf("drop run memory of %s: %w", runID, err)
	}
	return nil
}
