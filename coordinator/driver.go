package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// retryDelay is the pause before a storage operation that failed for an infrastructure reason
// (server restarting, leader moving) is tried again.
const retryDelay = 250 * time.Millisecond

// driver drives one run for as long as this coordinator holds its run message.
type driver struct {
	c     *Coordinator
	msg   jetstream.Msg
	log   *slog.Logger
	rec   *protocol.RunRecord
	rev   uint64
	epoch int
	// runMessage is the stream sequence of the run message this driver holds.
	runMessage uint64
	// staged are record changes applied in memory and not stored yet; claimStaged says the
	// claim is one of them (see record.go).
	staged      []func(*protocol.RunRecord)
	claimStaged bool
	pb          *playbooks.Playbook
	// results receives the results of this run's jobs as workers publish them.
	results chan *nats.Msg
	// dispatched holds the jobs this driver published itself; any other attempt in flight was
	// left by an earlier owner and is looked up in the streams before anything is published.
	dispatched map[protocol.JobID]bool
	// unanswered holds the jobs this driver published and has not applied a result of: while
	// any is left, or the run had an owner before this driver, finish removes the run's jobs
	// from the queue (see finish).
	unanswered map[protocol.JobID]bool
	// halt stops the run's steps (see watchHalt); nil outside the walk.
	halt context.CancelCauseFunc
	// leases are the playbook's locks, held while the run is driven.
	leases []datastore.Lease
	// secretValues caches the run's sensitive input values once the coordinator needed one.
	secretValues map[string]any
	// dynamic holds the latest values of dynamic inputs, read again before each task renders.
	dynamic map[string]any
	// agentDefs caches, per agent, the definitions node agents published (see checkRPC).
	agentDefs map[string][]*playbooks.AgentDefinition
	// counts are the metrics of staged changes, counted once the write that stores them lands.
	counts []func()
	// events are the run's events waiting to be published together (see events.go).
	events eventQueue
}

// recordVisibleWithin bounds how long after its message a run record may take to be visible on
// the replica a coordinator reads: a message older than this without a record is dropped (its
// run was deleted, or its submission never stored one). recordRetryDelay is how soon such a
// message is looked at again.
const (
	recordVisibleWithin = 2 * time.Minute
	recordRetryDelay    = 500 * time.Millisecond
)

// drive runs one run message to its end, or until the run is lost or ctx is cancelled.
func (c *Coordinator) drive(ctx context.Context, msg jetstream.Msg) {
	runID := runIDOf(msg.Subject())
	d := &driver{c: c, msg: msg, log: c.opts.log.With("run_id", runID), dispatched: map[protocol.JobID]bool{}, unanswered: map[protocol.JobID]bool{}}
	err := d.run(ctx, runID)
	switch {
	case err == nil:
	case errors.Is(err, ErrLostOwnership):
		// The message now belongs to the new owner: acking or naking it would act on their lease.
		d.log.Warn("run taken over by another coordinator; stopping", "epoch", d.epoch)
	case ctx.Err() != nil:
		// Shutting down: hand the run to another coordinator now rather than after the lease.
		if d.epoch > 0 {
			handBack(msg)
		}
	default:
		d.log.Error("driving run failed; it will be retried", "error", err)
		_ = msg.NakWithDelay(time.Second)
	}
}

func (d *driver) run(ctx context.Context, runID string) error {
	md, err := d.msg.Metadata()
	if err != nil {
		return fmt.Errorf("run message metadata: %w", err)
	}
	claimed, err := d.claim(ctx, runID, md.Sequence.Stream, md.Timestamp)
	if err != nil || !claimed {
		return err
	}

	stop := d.heartbeat()
	defer stop()
	// Results missed while the channel was full are found again by reconciliation.
	defer d.c.router.add(runID, d.results)()

	d.event(ctx, protocol.Event{Type: protocol.EventRunStarted}, fmt.Sprintf("started/%d", d.epoch))

	status, failure := protocol.StatusFailed, ""
	if d.pb == nil {
		d.pb, err = d.c.parsedOrParse(d.rec.Document)
	}
	if err != nil {
		failure = "stored playbook no longer parses: " + err.Error()
	} else if status, failure, err = d.walk(ctx); err != nil {
		return err
	}
	if err := d.update(ctx, func(rec *protocol.RunRecord) {
		rec.Status, rec.Error, rec.EndedAt = status, failure, time.Now().UTC()
	}); err != nil {
		return err
	}
	d.c.opts.metrics.RunFinished(d.rec.Playbook.Name, d.rec.Status, d.rec.EndedAt.Sub(d.rec.StartedAt))
	return d.finish(ctx)
}

// record is the run's record and revision for its claim: what the run's submit handed over, when
// it was submitted here (with its parsed playbook, kept in d.pb), or else as read.
func (d *driver) record(ctx context.Context, runID string) (*protocol.RunRecord, uint64, error) {
	if h, ok := d.c.handoffs.take(runID, time.Now()); ok {
		d.pb = h.pb
		d.c.claimsHandedOff.Add(1)
		return h.rec, h.rev, nil
	}
	return d.c.runs.Get(ctx, runID)
}

// claim makes this coordinator the run's owner. It returns false, having disposed of the
// message, when there is nothing to drive. The claim is staged, not written: the run's first
// write stores it (see record.go), and a coordinator that claimed the run in between makes that
// write fail.
func (d *driver) claim(ctx context.Context, runID string, seq uint64, sent time.Time) (bool, error) {
	rec, rev, err := d.record(ctx, runID)
	switch {
	case errors.Is(err, kvstore.ErrNotFound) && time.Since(sent) < recordVisibleWithin:
		// Submit stores the record before it publishes the message, so a young message whose
		// record is not found was read on a replica that has not caught up yet (a KV read may be
		// served by any replica of a clustered bucket): the message comes back for another look.
		d.log.Warn("run message before its run record is visible; trying again", "sent", sent)
		return false, d.msg.NakWithDelay(recordRetryDelay)
	case errors.Is(err, kvstore.ErrNotFound):
		d.log.Error("run message without a run record; dropping it")
		return false, d.msg.TermWithReason("run record missing")
	case err != nil:
		return false, err
	}
	d.rec, d.rev = rec, rev
	if rec.Status.Final() {
		// The owner died between recording the end and acknowledging the message.
		return false, d.finish(ctx)
	}
	if rec.RunMessage != 0 && rec.RunMessage != seq {
		d.log.Info("dropping duplicate run message", "seq", seq, "owner_seq", rec.RunMessage)
		return false, d.msg.TermWithReason("duplicate run message")
	}
	if rec.Owner != "" {
		d.log.Info("taking over run", "previous_owner", rec.Owner, "epoch", rec.Epoch+1)
	}
	owner, epoch, started := d.c.opts.name, rec.Epoch+1, time.Now().UTC()
	if rec.Status == protocol.StatusPending {
		d.count(func() { d.c.opts.metrics.RunStarted(rec.Playbook.Name) })
	}
	d.stage(func(rec *protocol.RunRecord) {
		rec.Owner, rec.Epoch, rec.RunMessage = owner, epoch, seq
		if rec.Status == protocol.StatusPending {
			rec.Status, rec.StartedAt = protocol.StatusRunning, started
		}
	})
	d.epoch, d.runMessage, d.claimStaged = epoch, seq, true
	d.results = make(chan *nats.Msg, 64)
	return true, nil
}

// finishTimeout bounds the clean-up of a finished run when the coordinator is stopping.
const finishTimeout = 5 * time.Second

// finish announces the end of a run, removes its unanswered jobs from the queue, and releases
// its run message. Its results and attempt records stay: the results are the steps' per-node
// outcomes (runs.nodes), and both are pruned with the run's record (kvstore.Retention). The final
// status is stored already, so a coordinator that is stopping finishes this too (a few writes)
// rather than leave a finished run for the next coordinator to drive again: a one-shot
// `run --embedded` stops its coordinator as soon as it sees the run end.
func (d *driver) finish(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	d.event(ctx, protocol.Event{
		Type: protocol.EventRunFinished, Status: d.rec.Status, Msg: d.rec.Error,
		Duration: d.rec.EndedAt.Sub(d.rec.StartedAt),
	}, "finished")
	if d.mayLeaveJobs() {
		err := d.c.jobs.Purge(ctx, jetstream.WithPurgeSubject(fmt.Sprintf(protocol.JobsRunWildcardPattern, d.rec.ID)))
		if err != nil {
			d.log.Warn("removing the jobs of finished run", "error", err)
		}
	}
	// Only what the run can have used is cleaned up: each clean-up is a write to the server.
	if d.hasSecrets() {
		if err := d.c.secrets.Delete(ctx, d.rec.ID); err != nil {
			d.log.Warn("deleting the sensitive inputs of finished run", "error", err)
		}
	}
	if d.usesMemoryStore() {
		if err := datastore.DropRunMemory(ctx, d.c.js, d.rec.ID); err != nil {
			d.log.Warn("dropping the memory store of finished run", "error", err)
		}
	}
	d.log.Info("run finished", "status", d.rec.Status)
	return d.msg.DoubleAck(ctx)
}

// mayLeaveJobs reports whether jobs of the run may still wait in the queue, unstarted, to run
// after its end: a job this driver published and whose result it did not apply (the run was
// halted, by a cancellation or its deadline, while the job waited or ran), or any job of an
// earlier owner.
// A purge of the queue is a server request that costs about what a no-op step costs, so a run
// whose every job was answered to the driver that published it, from its first claim on, does
// without. A job of such a run can be in the queue only as a copy whose acknowledgement was
// lost after its result was stored; it comes back after AckWait to a worker that finds the result
// (kept as long as the run) and acknowledges it without running it.
func (d *driver) mayLeaveJobs() bool {
	return d.epoch != 1 || len(d.unanswered) > 0
}

// hasSecrets reports whether the run has sensitive values stored apart (see protocol.SecretRef).
func (d *driver) hasSecrets() bool {
	if d.rec.Secrets {
		return true
	}
	for _, v := range d.rec.Inputs {
		if s, ok := v.(string); ok && protocol.HasSecretRefs(s) {
			return true
		}
	}
	return d.secretValues != nil
}

// usesMemoryStore reports whether the run's playbook declares a memory data store; when the
// playbook is unknown (it no longer parses), it answers yes, to be safe.
func (d *driver) usesMemoryStore() bool {
	if d.pb == nil {
		return true
	}
	for _, ds := range d.pb.DataStores {
		if ds.Type == datastore.TypeMemory {
			return true
		}
	}
	return false
}

// heartbeat keeps the run message (the lease on the run) while the run is driven.
func (d *driver) heartbeat() (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d.c.opts.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := d.msg.InProgress(); err != nil {
					d.log.Warn("run heartbeat failed", "error", err)
				}
			}
		}
	}()
	return func() { close(done) }
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
