package kvstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// openBucket binds to a KV bucket. Provision creates every bucket; a bucket that a process may
// need before any coordinator has provisioned (the node registry, agent definitions) is opened
// with create, the configuration to create it with if it does not exist yet. An existing bucket
// is never changed here: Provision owns its configuration.
func openBucket(ctx context.Context, js jetstream.JetStream, bucket string, create *jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if create != nil && errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, *create)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, bucket) // another process created it first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// creating is the create argument of openBucket for bc under cfg: bc itself, or, for a process
// that awaits provisioning, nil once the bucket exists (the wait's failure is left to openBucket
// to report as the bucket not found).
func (c Config) creating(ctx context.Context, js jetstream.JetStream, bc *jetstream.KeyValueConfig) *jetstream.KeyValueConfig {
	if !c.Await {
		return bc
	}
	_ = awaitStream(ctx, js, protocol.BucketStreamName(bc.Bucket))
	return nil
}
