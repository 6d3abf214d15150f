package kvstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Attempts keeps the records of started jobs (protocol.Attempt), one key per job: a record is
// created with KV Create before the job's effect and changed only by compare-and-set on its
// revision, so of two workers handed one job only one can hold it.
type Attempts struct {
	kv jetstream.KeyValue
}

// AttemptRecord is an attempt record as read: the attempt, its revision, and when the server
// wrote that revision.
type AttemptRecord struct {
	protocol.Attempt
	Revision uint64
	Written  time.Time
}

// OpenAttempts binds to the attempts bucket, which Provision must have created.
func OpenAttempts(ctx context.Context, js jetstream.JetStream) (*Attempts, error) {
	kv, err := openBucket(ctx, js, protocol.AttemptsBucket, nil)
	if err != nil {
		return nil, err
	}
	return &Attempts{kv: kv}, nil
}

// Start creates job id's record and returns its revision; ErrExists when the job was started
// already.
func (a *Attempts) Start(ctx context.Context, id protocol.JobID, att protocol.Attempt) (uint64, error) {
	b, err := encodeAttempt(id, att)
	if err != nil {
		return 0, err
	}
	rev, err := a.kv.Create(ctx, protocol.AttemptKey(id), b)
	return rev, translate("start job", id.String(), err)
}

// Get reads job id's record; ErrNotFound when the job was never started (or its run was pruned).
func (a *Attempts) Get(ctx context.Context, id protocol.JobID) (*AttemptRecord, error) {
	e, err := a.kv.Get(ctx, protocol.AttemptKey(id))
	if err != nil {
		return nil, translate("read attempt of job", id.String(), err)
	}
	rec := &AttemptRecord{Revision: e.Revision(), Written: e.Created()}
	if err := json.Unmarshal(e.Value(), &rec.Attempt); err != nil {
		return nil, fmt.Errorf("decode attempt of job %s: %w", id, err)
	}
	return rec, nil
}

// Update replaces job id's record if it is still at revision rev and returns the new revision;
// ErrConflict when somebody changed it in between. Holders renew their record with it, and
// takers take a job over with it.
func (a *Attempts) Update(ctx context.Context, id protocol.JobID, att protocol.Attempt, rev uint64) (uint64, error) {
	b, err := encodeAttempt(id, att)
	if err != nil {
		return 0, err
	}
	rev, err = a.kv.Update(ctx, protocol.AttemptKey(id), b, rev)
	return rev, translate("update attempt of job", id.String(), err)
}

func encodeAttempt(id protocol.JobID, att protocol.Attempt) ([]byte, error) {
	att.Version = protocol.AttemptVersion
	b, err := json.Marshal(att)
	if err != nil {
		return nil, fmt.Errorf("encode attempt of job %s: %w", id, err)
	}
	return b, nil
}
