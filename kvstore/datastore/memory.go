package datastore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

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
