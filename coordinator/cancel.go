package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// halted is the cause of a run's step context when the run is stopped: cancelled by request, or
// over its time limit.
type halted struct{ reason string }

func (h *halted) Error() string { return h.reason }

// haltReason returns why ctx was halted, or "" when it was not.
func haltReason(ctx context.Context) string {
	var h *halted
	if errors.As(context.Cause(ctx), &h) {
		return h.reason
	}
	return ""
}

// watchHalt returns a context for the run's steps that is cancelled, with a *halted cause, when
// the run is cancelled or passes its deadline, or by halt. stop ends the watch.
//
// A cancellation is seen three ways, so none is missed: it is already in the record when the
// run is claimed; the coordinator that recorded it announces it on the run's cancel subject; and
// the recording makes the driver's next compare-and-set fail, whose fresh read shows it (update).
func (d *driver) watchHalt(ctx context.Context) (sctx context.Context, halt context.CancelCauseFunc, stop func()) {
	sctx, halt = context.WithCancelCause(ctx)
	d.halt = halt
	if d.rec.CancelRequested {
		halt(&halted{reason: "cancelled: " + d.rec.CancelReason})
	}
	unroute := d.c.cancels.add(d.rec.ID, func(reason string) { halt(&halted{reason: "cancelled: " + reason}) })
	var timer *time.Timer
	if dl := d.rec.Deadline; !dl.IsZero() {
		timer = time.AfterFunc(time.Until(dl), func() {
			halt(&halted{reason: fmt.Sprintf("timed out: the run's time limit passed at %s", dl.Format(time.RFC3339))})
		})
	}
	return sctx, halt, func() {
		unroute()
		if timer != nil {
			timer.Stop()
		}
		d.halt = nil
		halt(context.Canceled)
	}
}

// stopInFlight ends what the run has in flight after a halt: queued jobs are removed, workers are
// told to kill the run's running jobs, and steps begun but not done are recorded as failed.
func (d *driver) stopInFlight(ctx context.Context, reason string) error {
	err := d.c.jobs.Purge(ctx, jetstream.WithPurgeSubject(fmt.Sprintf(protocol.JobsRunWildcardPattern, d.rec.ID)))
	if err != nil {
		d.log.Warn("removing queued jobs of a halted run", "error", err)
	}
	if err := d.c.nc.Publish(protocol.CancelSubject(d.rec.ID), []byte(reason)); err != nil {
		d.log.Warn("telling workers to stop a halted run's jobs", "error", err)
	}
	now := time.Now().UTC()
	var stopped []int
	err = d.update(ctx, func(rec *protocol.RunRecord) {
		stopped = stopped[:0]
		for i := range rec.Steps {
			s := &rec.Steps[i]
			if s.Done {
				continue
			}
			s.Done, s.Success, s.Job, s.RetryAt, s.EndedAt = true, false, nil, time.Time{}, now
			s.Msg = reason
			if s.Attempt == 0 {
				s.Attempt = 1 // shown in the report as tried: it was begun
			}
			stopped = append(stopped, i)
		}
	})
	if err != nil {
		return err
	}
	for _, i := range stopped {
		st := &d.rec.Steps[i]
		ev := d.stepEvent(protocol.EventTaskFinished, st)
		ev.Msg, ev.Duration = st.Msg, st.EndedAt.Sub(st.StartedAt)
		d.event(ctx, ev, fmt.Sprintf("%d/finished", st.Seq))
	}
	return nil
}

// handleCancel records a cancellation request on the run, with who asked; the coordinator
// driving it sees the change on its watch and stops the run. The policy is asked about the run's
// playbook, and the allowed cancellation is audited before it is recorded.
func (c *Coordinator) handleCancel(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.CancelRunRequest
	if err := json.Unmarshal(r.data, &req); err != nil || req.RunID == "" || !protocol.ValidToken(req.RunID) {
		return nil, apiError(protocol.CodeBadRequest, "a cancel request needs a valid run_id")
	}
	if req.Reason == "" && r.who.Key == "" {
		req.Reason = "requested by an unsigned caller"
	} else if req.Reason == "" {
		req.Reason = "requested by " + r.who.String()
	}
	if _, apiErr := c.permit(ctx, r.who, policy.Cancel, nil, req.RunID); apiErr != nil {
		return nil, apiErr
	}
	rec, _, err := c.runs.Get(ctx, req.RunID)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, apiError(protocol.CodeNotFound, "no run %s", req.RunID)
	}
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "load run %s: %v", req.RunID, err)
	}
	if apiErr := c.permitAndRecord(ctx, r.who, policy.Cancel, &rec.Playbook, rec.ID); apiErr != nil {
		return nil, apiErr
	}
	rec, err = c.requestCancel(ctx, req.RunID, req.Reason, r.who)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, apiError(protocol.CodeNotFound, "no run %s", req.RunID)
	}
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "cancel run %s: %v", req.RunID, err)
	}
	return ReportOf(rec), nil
}

// requestCancel marks run id to be stopped, for reason, by by, and tells its driver and workers
// at once. A run that ended, or is already being cancelled, is left as it is. It returns the run
// as it now stands.
func (c *Coordinator) requestCancel(ctx context.Context, id, reason string, by protocol.Identity) (*protocol.RunRecord, error) {
	for {
		rec, rev, err := c.runs.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if rec.Status.Final() || rec.CancelRequested {
			return rec, nil
		}
		rec.CancelRequested, rec.CancelReason, rec.CancelledBy = true, reason, by
		if _, err := c.runs.Update(ctx, rec, rev); errors.Is(err, kvstore.ErrConflict) {
			continue
		} else if err != nil {
			return nil, err
		}
		// The driver also sees the change at its next write; this tells it (and the workers) now.
		if err := c.nc.Publish(protocol.CancelSubject(id), []byte(reason)); err != nil {
			c.opts.log.Warn("announcing a cancellation", "run_id", id, "error", err)
		}
		return rec, nil
	}
}
