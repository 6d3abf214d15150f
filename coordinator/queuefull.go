package coordinator

import (
	"context"

	"github.com/fleetbook/fleetbook/protocol"
)

// refuseFull answers a submission whose run message the full RUNS stream refused. The run record
// and the idempotency claim written for it are taken back (each only if unchanged since), so no
// run lingers as pending that nothing will ever start, and a retry with the same key is a fresh
// submission. A run already accepted before is never touched: its message is in the stream.
func (c *Coordinator) refuseFull(ctx context.Context, rec *protocol.RunRecord, rev uint64, queueErr error) *protocol.ErrorResponse {
	if err := c.runs.Remove(ctx, rec.ID, rev); err != nil {
		c.opts.log.Warn("taking back the record of a run the full queue refused", "run_id", rec.ID, "error", err)
	} else {
		if err := c.submissions.Release(ctx, rec.IdempotencyKey, rec.ID); err != nil {
			c.opts.log.Warn("releasing the idempotency key of a run the full queue refused", "run_id", rec.ID, "error", err)
		}
		if err := c.secrets.Delete(ctx, rec.ID); err != nil {
			c.opts.log.Warn("deleting the sensitive inputs of a run the full queue refused", "run_id", rec.ID, "error", err)
		}
	}
	c.opts.log.Warn("run refused: the run queue is full", "run_id", rec.ID, "error", queueErr)
	return apiError(protocol.CodeQueueFull, "the run queue is full (stream %s is at its message limit); nothing was stored: retry later", protocol.RunsStreamName)
}
