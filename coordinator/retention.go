package coordinator

import (
	"context"
	"encoding/json"
	"time"

	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// pruneBudget bounds the work of one prune request, well inside apiTimeout: the client asks
// again until a pass is complete.
const pruneBudget = 5 * time.Second

// maxPruneEvery is the longest pause between two of the coordinator's own prunes.
const maxPruneEvery = time.Hour

// handlePrune deletes ended runs for a caller the policy allows to prune; every request (a
// prune is asked for again until complete) is audited before it deletes anything.
func (c *Coordinator) handlePrune(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.PruneRunsRequest
	if err := json.Unmarshal(r.data, &req); err != nil {
		return nil, apiError(protocol.CodeBadRequest, "decode prune request: %v", err)
	}
	if req.OlderThan <= 0 {
		return nil, apiError(protocol.CodeBadRequest, "older_than must be a positive duration, got %s", req.OlderThan)
	}
	if apiErr := c.permitAndRecord(ctx, r.who, policy.Prune, nil, ""); apiErr != nil {
		return nil, apiErr
	}
	pctx, cancel := context.WithTimeout(ctx, pruneBudget)
	defer cancel()
	res, err := c.retention.Prune(pctx, time.Now().Add(-req.OlderThan))
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "prune runs: %v", err)
	}
	if res.Pruned > 0 {
		c.opts.log.Info("pruned ended runs on request", "runs", res.Pruned, "older_than", req.OlderThan)
	}
	return protocol.PruneRunsResponse{Version: protocol.SubmitVersion, Pruned: res.Pruned, Complete: res.Complete}, nil
}

// keepRunsFor deletes, every so often until ctx ends, the runs that ended more than keep ago.
// Every coordinator does it: deleting a run twice is harmless, and no coordinator is special.
func (c *Coordinator) keepRunsFor(ctx context.Context, keep time.Duration) {
	every := min(maxPruneEvery, max(keep/10, time.Second))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := c.retention.Prune(ctx, time.Now().Add(-keep))
		if err != nil {
			c.opts.log.Warn("pruning ended runs", "error", err)
			continue
		}
		if res.Pruned > 0 {
			c.opts.log.Info("pruned ended runs", "runs", res.Pruned, "keep_runs", keep)
		}
	}
}
