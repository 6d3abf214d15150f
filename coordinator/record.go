package coordinator

import (
	"context"
	"errors"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// The run record is written with as few compare-and-sets as the guarantees allow: a change that
// can wait is staged (applied to the record in memory and kept) and stored with the next write.
// Two changes are staged on the happy path, which saves one write per step and one per run:
//
//   - the claim of the run (owner, epoch), stored with the first write that follows it. Until
//     then the driver may only read and publish events; before anything else that acts on the
//     world (taking locks, writing data stores, running a local task, waiting) it flushes, so a
//     second claimant is fenced by the first write as it was by the claim;
//   - the end of a step whose result came from a worker, stored with the next step's first write
//     or the run's final status. The result stays in the results stream until the run ends, so a
//     coordinator taking over before the write finds it there and applies it again (reconcile).
//
// Mutations must be idempotent: after a conflict the record is read again and every staged
// mutation is applied again to the fresh copy.

// stage applies mutate to the record in memory and keeps it for the next write.
func (d *driver) stage(mutate func(*protocol.RunRecord)) {
	mutate(d.rec)
	d.staged = append(d.staged, mutate)
}

// update applies mutate to the run record and stores it, with every staged change, with a
// compare-and-set. If the record changed underneath, it is read again: another owner means the
// run is lost; a cancellation halts the run and returns the halt, and mutate is then not kept
// (the staged changes are); otherwise (an earlier write of ours landed without our knowing)
// the staged changes and mutate are applied again to the fresh record and the write is retried.
// Infrastructure errors are retried until ctx ends.
func (d *driver) update(ctx context.Context, mutate func(*protocol.RunRecord)) error {
	for {
		mutate(d.rec)
		rev, err := d.c.runs.Update(ctx, d.rec, d.rev)
		if err == nil {
			d.rev, d.staged, d.claimStaged = rev, d.staged[:0], false
			for _, count := range d.counts {
				count()
			}
			d.counts = d.counts[:0]
			return nil
		}
		if !errors.Is(err, kvstore.ErrConflict) {
			d.log.Warn("storing run record", "error", err)
			if err := sleep(ctx, retryDelay); err != nil {
				return err
			}
		}
		fresh, frev, gerr := d.c.runs.Get(ctx, d.rec.ID)
		for gerr != nil && !errors.Is(gerr, kvstore.ErrNotFound) {
			if err := sleep(ctx, retryDelay); err != nil {
				return err
			}
			fresh, frev, gerr = d.c.runs.Get(ctx, d.rec.ID)
		}
		if gerr != nil || !d.owns(fresh) {
			return ErrLostOwnership
		}
		d.rec, d.rev = fresh, frev
		for _, staged := range d.staged {
			staged(d.rec)
		}
		if fresh.CancelRequested && d.halt != nil {
			h := &halted{reason: "cancelled: " + fresh.CancelReason}
			d.halt(h)
			return h
		}
	}
}

// count keeps f, which counts a staged change in the metrics, for when the next write stores
// it: a change staged by an owner that loses the run is never stored, and never counted; the
// new owner, applying the same result again, counts it once.
func (d *driver) count(f func()) { d.counts = append(d.counts, f) }

// flush stores the staged changes, if there are any.
func (d *driver) flush(ctx context.Context) error {
	if len(d.staged) == 0 {
		return nil
	}
	return d.update(ctx, func(*protocol.RunRecord) {})
}

// owns reports whether a freshly read record still lets this driver write it: it names this
// coordinator at the driver's epoch, or, while the claim is only staged, nobody claimed the run
// since the driver read it. (A claim whose write landed unknown to us is the first case.)
func (d *driver) owns(fresh *protocol.RunRecord) bool {
	if fresh.Owner == d.c.opts.name && fresh.Epoch == d.epoch {
		return true
	}
	return d.claimStaged && fresh.Epoch == d.epoch-1 && !fresh.Status.Final() &&
		(fresh.RunMessage == 0 || fresh.RunMessage == d.runMessage)
}
