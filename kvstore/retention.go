package kvstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Retention deletes what fleetbook keeps of runs that ended long ago: the run record with its
// history, the idempotency key that created it, its events, its job results (the per-node
// outcomes of its steps) and any attempt records of its jobs.
// Runs that have not ended are never touched, however old.
type Retention struct {
	runs        *Runs
	submissions jetstream.Stream
	events      jetstream.Stream
	results     jetstream.Stream
	attempts    jetstream.Stream
}

// PruneResult says what one Prune did.
type PruneResult struct {
	// Pruned counts the runs deleted.
	Pruned int
	// Complete is false when ctx ended before every run was looked at; a later Prune goes on.
	Complete bool
}

// OpenRetention binds to the runs, submissions and attempts buckets and the events and results
// streams.
func OpenRetention(ctx context.Context, js jetstream.JetStream) (*Retention, error) {
	runs, err := OpenRuns(ctx, js)
	if err != nil {
		return nil, err
	}
	r := &Retention{runs: runs}
	for name, s := range map[string]*jetstream.Stream{
		protocol.BucketStreamName(protocol.SubmissionsBucket): &r.submissions,
		protocol.EventsStreamName:                             &r.events,
		protocol.ResultsStreamName:                            &r.results,
		protocol.BucketStreamName(protocol.AttemptsBucket):    &r.attempts,
	} {
		if *s, err = js.Stream(ctx, name); err != nil {
			return nil, fmt.Errorf("open stream %s: %w", name, err)
		}
	}
	return r, nil
}

// Prune deletes every run that ended before cutoff, until ctx ends. A run's events, results and
// idempotency key go first and its record last, so a Prune interrupted half-way leaves the
// record for the next one to find.
func (r *Retention) Prune(ctx context.Context, cutoff time.Time) (PruneResult, error) {
	var res PruneResult
	lister, err := r.runs.kv.ListKeysFiltered(ctx, protocol.RunRecordKeys)
	if err != nil {
		return res, fmt.Errorf("list runs: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	for id := range lister.Keys() {
		if ctx.Err() != nil {
			return res, nil
		}
		if created, ok := CreatedAt(id); ok && !created.Before(cutoff) {
			continue // created after the cutoff, so it cannot have ended before it: not even read
		}
		rec, _, err := r.runs.getStored(ctx, id)
		switch {
		case ctx.Err() != nil:
			return res, nil
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return res, err
		case !rec.Status.Final() || !rec.EndedAt.Before(cutoff):
			continue
		}
		if err := r.prune(ctx, rec); err != nil {
			if ctx.Err() != nil {
				return res, nil // the next Prune finds the record again and finishes the run
			}
			return res, err
		}
		res.Pruned++
	}
	res.Complete = ctx.Err() == nil
	return res, nil
}

// prune deletes one ended run: its events, its results, its attempt records, its idempotency key (if it had one), then
// its record.
// A stream purge of a key leaves no delete marker behind, unlike a KV purge.
func (r *Retention) prune(ctx context.Context, rec *protocol.RunRecord) error {
	purge := func(stream jetstream.Stream, subject string) error {
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			return fmt.Errorf("prune run %s: purge %s: %w", rec.ID, subject, err)
		}
		return nil
	}
	if err := purge(r.events, protocol.EventSubject(rec.ID)); err != nil {
		return err
	}
	if err := purge(r.results, fmt.Sprintf(protocol.ResultsRunWildcardPattern, rec.ID)); err != nil {
		return err
	}
	// Kept as long as the run: a job whose acknowledgement was lost finds its record beside its
	// result, whenever it comes back.
	if err := purge(r.attempts, fmt.Sprintf(protocol.AttemptsRunWildcardPattern, rec.ID)); err != nil {
		return err
	}
	if rec.IdempotencyKey != "" {
		if err := purge(r.submissions, protocol.BucketSubject(protocol.SubmissionsBucket, keyFor(rec.IdempotencyKey))); err != nil {
			return err
		}
	}
	if err := r.runs.dropParts(ctx, rec.ID); err != nil {
		return fmt.Errorf("prune run %s: %w", rec.ID, err)
	}
	// The record goes with a purge marker that expires, not a stream purge: run indexes
	// (RunIndex) learn of the removal from it, and it leaves nothing behind once they have.
	if err := r.runs.kv.Purge(ctx, rec.ID, jetstream.PurgeTTL(RunPurgeMarkerTTL)); err != nil {
		return fmt.Errorf("prune run %s: purge its record: %w", rec.ID, err)
	}
	return nil
}

// RunPurgeMarkerTTL is how long the marker a pruned run's record leaves is kept: long enough for
// a run index that lost its connection to come back and see it.
const RunPurgeMarkerTTL = 24 * time.Hour
