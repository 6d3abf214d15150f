package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Runs keeps run records, one key per run id, each change a compare-and-set on its revision.
// Every write carries the record's summary in the RunSummaryHeader, for RunIndex.
//
// What a record's parts hold (see runparts.go) is stored apart; Get and the other reads give
// records back whole, and the writes take whole records.
type Runs struct {
	kv jetstream.KeyValue
	js jetstream.JetStream
}

// OpenRuns binds to the runs bucket, which Provision must have created.
func OpenRuns(ctx context.Context, js jetstream.JetStream) (*Runs, error) {
	kv, err := openBucket(ctx, js, protocol.RunsBucket, nil)
	if err != nil {
		return nil, err
	}
	return &Runs{kv: kv, js: js}, nil
}

// Create stores a new record; ErrExists if the run id is taken.
func (r *Runs) Create(ctx context.Context, rec *protocol.RunRecord) (uint64, error) {
	rev, _, err := r.create(ctx, rec)
	return rev, err
}

// CreateCopy stores a new record as Create does, and returns with its revision what Get returns
// of it from then on: its stored form decoded again (values of the types a reader sees, numbers
// float64), with the playbook filled in from rec when it is kept in a part. The copy shares
// nothing that either side may change with rec. Once rec is stored the error is nil: the copy
// is nil if it cannot be made as Get would (a record with node sets or step pages in parts, which
// no record has as submitted).
func (r *Runs) CreateCopy(ctx context.Context, rec *protocol.RunRecord) (uint64, *protocol.RunRecord, error) {
	rev, stored, err := r.create(ctx, rec)
	if err != nil {
		return 0, nil, err
	}
	var cp protocol.RunRecord
	if json.Unmarshal(stored, &cp) != nil || len(cp.NodeParts) > 0 || cp.SealedSteps > 0 || cp.ResolveJobTargets() != nil {
		return rev, nil, nil
	}
	if cp.DocumentPart != "" {
		cp.Document, cp.Files = rec.Document, maps.Clone(rec.Files)
	}
	return rev, &cp, nil
}

// create is Create, with the record's stored form.
func (r *Runs) create(ctx context.Context, rec *protocol.RunRecord) (uint64, []byte, error) {
	rev, stored, err := r.write(ctx, rec, 0)
	if errors.Is(err, errWrongRevision) {
		// As the KV API's Create: a key whose last revision deleted it may be created again.
		if marker, ok := r.deletedAt(ctx, rec.ID); ok {
			rev, stored, err = r.write(ctx, rec, marker)
		}
	}
	if errors.Is(err, errWrongRevision) {
		return 0, nil, fmt.Errorf("create run %s: %w", rec.ID, ErrExists)
	}
	return rev, stored, err
}

// deletedAt returns the revision of key's delete or purge marker, if its last revision is one.
func (r *Runs) deletedAt(ctx context.Context, key string) (uint64, bool) {
	s, err := r.js.Stream(ctx, protocol.BucketStreamName(protocol.RunsBucket))
	if err != nil {
		return 0, false
	}
	m, err := s.GetLastMsgForSubject(ctx, protocol.BucketSubject(protocol.RunsBucket, key))
	if err != nil || m.Header.Get(kvOperationHeader) == "" {
		return 0, false
	}
	return m.Sequence, true
}

// kvOperationHeader marks a KV delete or purge marker (JetStream's KV convention).
const kvOperationHeader = "KV-Operation"

// errWrongRevision is write's refusal: the key is not at the revision given.
var errWrongRevision = errors.New("wrong revision")

// write stores rec if its key is at revision rev (0: the key does not exist) and returns the new
// revision and what it stored; errWrongRevision if it is not. It publishes to the key's subject itself, as the KV
// API does, to add the summary header the KV API cannot.
func (r *Runs) write(ctx context.Context, rec *protocol.RunRecord, rev uint64) (uint64, []byte, error) {
	b, err := r.encode(ctx, rec)
	if err != nil {
		return 0, nil, fmt.Errorf("encode run %s: %w", rec.ID, err)
	}
	sum, err := json.Marshal(rec.Summary())
	if err != nil {
		return 0, nil, fmt.Errorf("encode run %s: %w", rec.ID, err)
	}
	m := &nats.Msg{Subject: protocol.BucketSubject(protocol.RunsBucket, rec.ID), Data: b,
		Header: nats.Header{protocol.RunSummaryHeader: []string{string(sum)}}}
	ack, err := r.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(rev))
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
		return 0, nil, errWrongRevision
	case err != nil:
		return 0, nil, fmt.Errorf("write run %s: %w", rec.ID, err)
	}
	return ack.Sequence, b, nil
}

// Get loads a record, whole, and its revision; ErrNotFound if there is none.
func (r *Runs) Get(ctx context.Context, id string) (*protocol.RunRecord, uint64, error) {
	rec, rev, err := r.getStored(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if err := r.complete(ctx, rec); err != nil {
		return nil, 0, err
	}
	return rec, rev, nil
}

// getStored loads a record as stored, without what its parts hold: for what reads only its
// header (status, times).
func (r *Runs) getStored(ctx context.Context, id string) (*protocol.RunRecord, uint64, error) {
	e, err := r.kv.Get(ctx, id)
	if err != nil {
		return nil, 0, translate("get run", id, err)
	}
	var rec protocol.RunRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, 0, fmt.Errorf("decode run %s: %w", id, err)
	}
	return &rec, e.Revision(), nil
}

// Update replaces the record if it is still at revision rev and returns the new revision;
// ErrConflict if somebody changed it in between.
func (r *Runs) Update(ctx context.Context, rec *protocol.RunRecord, rev uint64) (uint64, error) {
	if rev == 0 {
		return 0, fmt.Errorf("update run %s: revision 0 (Create makes records)", rec.ID)
	}
	nrev, _, err := r.write(ctx, rec, rev)
	if errors.Is(err, errWrongRevision) {
		return 0, fmt.Errorf("update run %s: %w", rec.ID, ErrConflict)
	}
	return nrev, err
}

// List returns up to limit records, newest first (limit <= 0: all).
//
// Run ids are UUIDv7, which carry their creation time, so only the keys are listed (no values)
// and only the newest limit records are read, however long the history: a key's time is its
// run's CreatedAt to the millisecond. Records whose id carries no time (none that fleetbook
// made) are read and placed by their CreatedAt.
func (r *Runs) List(ctx context.Context, limit int) ([]*protocol.RunRecord, error) {
	lister, err := r.kv.ListKeysFiltered(ctx, protocol.RunRecordKeys)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	type timedKey struct {
		key string
		at  time.Time
	}
	var timed []timedKey
	var read []string
	for key := range lister.Keys() {
		if at, ok := CreatedAt(key); ok && limit > 0 {
			timed = append(timed, timedKey{key, at})
		} else {
			read = append(read, key)
		}
	}
	sort.Slice(timed, func(i, j int) bool {
		if !timed[i].at.Equal(timed[j].at) {
			return timed[i].at.After(timed[j].at)
		}
		return timed[i].key > timed[j].key
	})
	for i, tk := range timed {
		// Keys of the same millisecond as the last one kept are read too: CreatedAt orders them.
		if i >= limit && !tk.at.Equal(timed[limit-1].at) {
			break
		}
		read = append(read, tk.key)
	}
	var recs []*protocol.RunRecord
	for _, key := range read {
		rec, _, err := r.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue // deleted between the listing and the read
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].CreatedAt.Equal(recs[j].CreatedAt) {
			return recs[i].CreatedAt.After(recs[j].CreatedAt)
		}
		return recs[i].ID > recs[j].ID
	})
	if limit > 0 && len(recs) > limit {
		recs = recs[:limit]
	}
	return recs, nil
}

// WaitFinal blocks until run id reaches a final status and returns its record.
func (r *Runs) WaitFinal(ctx context.Context, id string) (*protocol.RunRecord, error) {
	return r.WaitFor(ctx, id, func(rec *protocol.RunRecord) bool { return rec.Status.Final() })
}

// WaitFor blocks until a stored version of run id satisfies cond (the current one included) and
// returns it, whole. It watches the key, so it learns of each change as soon as it is stored.
// cond sees each version as stored: with no steps of its pages, nor a large playbook.
func (r *Runs) WaitFor(ctx context.Context, id string, cond func(*protocol.RunRecord) bool) (*protocol.RunRecord, error) {
	w, err := r.kv.Watch(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("watch run %s: %w", id, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("watch run %s: watcher stopped", id)
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue // nil marks the end of the initial values
			}
			var rec protocol.RunRecord
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				return nil, fmt.Errorf("decode run %s: %w", id, err)
			}
			if cond(&rec) {
				if err := r.complete(ctx, &rec); err != nil {
					return nil, err
				}
				return &rec, nil
			}
		}
	}
}

// Remove deletes the record if it is still at revision rev: for a submission that could not be
// queued, whose record must not linger as a run that never starts. ErrConflict if it changed.
func (r *Runs) Remove(ctx context.Context, id string, rev uint64) error {
	if err := r.kv.Delete(ctx, id, jetstream.LastRevision(rev)); err != nil {
		return translate("remove run", id, err)
	}
	return r.dropParts(ctx, id)
}

// dropParts deletes every part of run id, leaving no marker behind.
func (r *Runs) dropParts(ctx context.Context, id string) error {
	s, err := r.js.Stream(ctx, protocol.BucketStreamName(protocol.RunsBucket))
	if err == nil {
		err = s.Purge(ctx, jetstream.WithPurgeSubject(fmt.Sprintf(protocol.RunPartsWildcardPattern, id)))
	}
	if err != nil {
		return fmt.Errorf("drop the parts of run %s: %w", id, err)
	}
	return nil
}

// CreatedAt reads the creation time, to the millisecond, a run id carries: run ids are UUIDv7,
// time-ordered. ok is false for an id that is not one.
func CreatedAt(id string) (time.Time, bool) {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return time.Time{}, false
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec), true
}
