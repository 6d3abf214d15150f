package kvstore

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// translate maps JetStream KV errors to ours. A stale Update matches both ErrKeyRevisionMismatch and
// ErrKeyExists, so the mismatch is tested first.
func translate(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return fmt.Errorf("%s %s: %w", op, key, ErrConflict)
	case errors.Is(err, jetstream.ErrKeyExists):
		return fmt.Errorf("%s %s: %w", op, key, ErrExists)
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}
