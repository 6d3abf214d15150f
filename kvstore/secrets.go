package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Secrets keeps the sensitive input values of unfinished runs, one key per run id, so that run
// records and jobs carry only references to them (see protocol.SecretRef).
type Secrets struct {
	kv jetstream.KeyValue
}

// OpenSecrets binds to the secrets bucket, which Provision must have created.
func OpenSecrets(ctx context.Context, js jetstream.JetStream) (*Secrets, error) {
	kv, err := openBucket(ctx, js, protocol.SecretsBucket, nil)
	if err != nil {
		return nil, err
	}
	return &Secrets{kv: kv}, nil
}

// Put stores run id's secret values, replacing any stored before.
func (s *Secrets) Put(ctx context.Context, runID string, values map[string]any) error {
	b, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("encode secrets of run %s: %w", runID, err)
	}
	_, err = s.kv.Put(ctx, runID, b)
	return translate("store secrets of run", runID, err)
}

// Get returns run id's secret values; none stored is an empty map.
func (s *Secrets) Get(ctx context.Context, runID string) (map[string]any, error) {
	e, err := s.kv.Get(ctx, runID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, translate("read secrets of run", runID, err)
	}
	var values map[string]any
	if err := json.Unmarshal(e.Value(), &values); err != nil {
		return nil, fmt.Errorf("decode secrets of run %s: %w", runID, err)
	}
	return values, nil
}

// Delete forgets run id's secret values, history included.
func (s *Secrets) Delete(ctx context.Context, runID string) error {
	err := s.kv.Purge(ctx, runID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return translate("delete secrets of run", runID, err)
}
