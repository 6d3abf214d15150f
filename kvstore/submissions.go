package kvstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Submission records which run an idempotency key created.
type Submission struct {
	RunID string `json:"run_id"`
	// RequestHash identifies the submitted playbook and inputs.
	RequestHash string `json:"request_hash"`
}

// Submissions maps idempotency keys to runs. Unlike the streams' Nats-Msg-Id window, it does not
// forget: the same key gives the same run for as long as the record lives.
type Submissions struct {
	kv jetstream.KeyValue
}

// OpenSubmissions binds to the submissions bucket, which Provision must have created.
func OpenSubmissions(ctx context.Context, js jetstream.JetStream) (*Submissions, error) {
	kv, err := openBucket(ctx, js, protocol.SubmissionsBucket, nil)
	if err != nil {
		return nil, err
	}
	return &Submissions{kv: kv}, nil
}

// keyFor hashes an idempotency key: clients choose keys freely, KV keys allow few characters.
func keyFor(idempotencyKey string) string {
	sum := sha256.Sum256([]byte(idempotencyKey))
	return hex.EncodeToString(sum[:])
}

// Claim records that idempotencyKey creates sub. If the key was claimed before, it returns the
// earlier submission and claimed=false; the caller compares request hashes.
func (s *Submissions) Claim(ctx context.Context, idempotencyKey string, sub Submission) (Submission, bool, error) {
	key := keyFor(idempotencyKey)
	b, err := json.Marshal(sub)
	if err != nil {
		return Submission{}, false, err
	}
	_, err = s.kv.Create(ctx, key, b)
	err = translate("claim idempotency key", key, err)
	if err == nil {
		return sub, true, nil
	}
	if !errors.Is(err, ErrExists) {
		return Submission{}, false, err
	}
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return Submission{}, false, translate("get idempotency key", key, err)
	}
	var prev Submission
	if err := json.Unmarshal(e.Value(), &prev); err != nil {
		return Submission{}, false, fmt.Errorf("decode submission %s: %w", key, err)
	}
	return prev, false, nil
}

// Lookup returns the submission idempotencyKey made; ErrNotFound if it made none (or its run
// was deleted since).
func (s *Submissions) Lookup(ctx context.Context, idempotencyKey string) (Submission, error) {
	key := keyFor(idempotencyKey)
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return Submission{}, translate("get idempotency key", key, err)
	}
	var sub Submission
	if err := json.Unmarshal(e.Value(), &sub); err != nil {
		return Submission{}, fmt.Errorf("decode submission %s: %w", key, err)
	}
	return sub, nil
}

// Release forgets idempotencyKey if it still names runID, so a submission that could not be
// queued can be retried with the same key. ErrConflict if the key changed meanwhile.
func (s *Submissions) Release(ctx context.Context, idempotencyKey, runID string) error {
	key := keyFor(idempotencyKey)
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return translate("get idempotency key", key, err)
	}
	var prev Submission
	if err := json.Unmarshal(e.Value(), &prev); err != nil {
		return fmt.Errorf("decode submission %s: %w", key, err)
	}
	if prev.RunID != runID {
		return fmt.Errorf("release idempotency key %s: %w", key, ErrConflict)
	}
	return translate("release idempotency key", key, s.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())))
}
