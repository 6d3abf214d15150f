package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Pages of a step's per-node outcomes.
const (
	// defaultRunNodesLimit is how many nodes a page holds when the request names no limit.
	defaultRunNodesLimit = 100
	// maxRunNodesLimit bounds one page.
	maxRunNodesLimit = 1000
	// runNodesHeadroom is what a page leaves free of the server's payload limit, for the
	// response's own fields and the micro service's framing.
	runNodesHeadroom = 64 << 10
)

// handleRunNodes answers a page of one step's per-node outcomes, read from the step's batch
// results in the results stream (kept as long as the run), one batch at a time so neither the
// coordinator's memory nor the reply grows with the step's nodes. It needs read on the run's
// playbook, like runs.get.
func (c *Coordinator) handleRunNodes(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.RunNodesRequest
	if apiErr := decodeRequest(r.data, &req); apiErr != nil {
		return nil, apiErr
	}
	if apiErr := checkRunNodesRequest(req); apiErr != nil {
		return nil, apiErr
	}
	rec, apiErr := c.readableRun(ctx, r.who, req.RunID)
	if apiErr != nil {
		return nil, apiErr
	}
	st, tasks := taskStep(rec, req.Seq)
	if st == nil {
		return nil, apiError(protocol.CodeNotFound, "seq: run %s has no task %d (it has %d)", rec.ID, req.Seq, tasks)
	}
	limit := req.Limit
	if limit == 0 {
		limit = defaultRunNodesLimit
	}
	p := &nodePage{req: req, limit: limit, budget: int(c.nc.MaxPayload()) - runNodesHeadroom}
	return c.pageStepNodes(ctx, rec.ID, st, p)
}

// taskStep is the step of the run's task number n, as the report numbers its tasks (from 1,
// discoveries not counted), and how many tasks the run has so far.
func taskStep(rec *protocol.RunRecord, n int) (*protocol.StepRecord, int) {
	var found *protocol.StepRecord
	tasks := 0
	for i := range rec.Steps {
		if rec.Steps[i].List == string(listDiscover) {
			continue
		}
		if tasks++; tasks == n {
			found = &rec.Steps[i]
		}
	}
	return found, tasks
}

// checkRunNodesRequest refuses a request naming no run or step, or out of bounds, naming the
// field.
func checkRunNodesRequest(req protocol.RunNodesRequest) *protocol.ErrorResponse {
	switch {
	case req.RunID == "":
		return apiError(protocol.CodeBadRequest, "run_id: a runs.nodes request needs a run_id")
	case !protocol.ValidToken(req.RunID):
		return apiError(protocol.CodeBadRequest, "run_id: invalid run id %q", req.RunID)
	case req.Seq < 1:
		return apiError(protocol.CodeBadRequest, "seq: give the task's number (the report's tasks[].number), from 1, got %d", req.Seq)
	case req.Outcome != "" && req.Outcome != protocol.OutcomeOK && req.Outcome != protocol.OutcomeFailed:
		return apiError(protocol.CodeBadRequest, "outcome: give %q, %q or nothing, got %q", protocol.OutcomeOK, protocol.OutcomeFailed, req.Outcome)
	case req.Limit < 0 || req.Limit > maxRunNodesLimit:
		return apiError(protocol.CodeBadRequest, "limit: give 1 to %d (0: %d), got %d", maxRunNodesLimit, defaultRunNodesLimit, req.Limit)
	case req.Offset < 0:
		return apiError(protocol.CodeBadRequest, "offset: must not be negative, got %d", req.Offset)
	case len(req.Search) > maxNodesSearch:
		return apiError(protocol.CodeBadRequest, "search: %d bytes, more than the %d of the longest identity", len(req.Search), maxNodesSearch)
	}
	return nil
}

// pageStepNodes answers the page p asks of step s: from its batch results when every applied
// batch still has its result, from the nodes the record kept otherwise.
func (c *Coordinator) pageStepNodes(ctx context.Context, runID string, s *protocol.StepRecord, p *nodePage) (*protocol.RunNodesResponse, *protocol.ErrorResponse) {
	complete, err := c.pageBatches(ctx, runID, s, p)
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "read the results of run %s step %d: %v", runID, s.Seq, err)
	}
	if !complete {
		*p = nodePage{req: p.req, limit: p.limit, budget: p.budget}
		for _, id := range slices.Sorted(maps.Keys(s.Nodes)) {
			p.add(id, s.Nodes[id])
		}
		// The record counted every node, also those it could not keep.
		p.ok, p.failed = s.NodesOK, s.NodesFailed
	}
	return p.response(complete), nil
}

// errResultGone says an applied batch's result is no longer in the results stream.
var errResultGone = errors.New("result gone")

// pageBatches feeds p the nodes of every applied batch of s's last attempt, in batch order and
// by identity within a batch. It reports false when a batch's result is gone (or is not the
// batch's: see resultOf), and true for a step that fanned out to no node.
func (c *Coordinator) pageBatches(ctx context.Context, runID string, s *protocol.StepRecord, p *nodePage) (bool, error) {
	if s.Batches == 0 {
		return len(s.Nodes) == 0, nil
	}
	if c.results == nil {
		return false, nil
	}
	for _, b := range slices.Sorted(slices.Values(s.DoneBatches)) {
		id := protocol.JobID{RunID: runID, Step: s.Seq, Attempt: s.Attempt, Batch: b}
		// A batch whose counts are known and whose nodes the page does not show is not read: a
		// page of a 100,000-node step reads one or two results, not a hundred.
		if n, ok := c.batchCounts.get(id); ok && p.skips(n) {
			continue
		}
		before := batchCount{ok: p.ok, failed: p.failed}
		res, err := c.resultOf(ctx, id)
		if errors.Is(err, errResultGone) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		p.addBatch(s, b, res)
		c.batchCounts.put(id, batchCount{ok: p.ok - before.ok, failed: p.failed - before.failed})
	}
	return true, nil
}

// addBatch feeds p the nodes of batch b's result res, by identity.
func (p *nodePage) addBatch(s *protocol.StepRecord, b int, res *protocol.Result) {
	if len(res.Nodes) == 0 && !res.Success {
		// The whole batch failed before reaching any node, as applyBatch counted it.
		for _, id := range slices.Sorted(slices.Values(batchTargets(s, b))) {
			p.add(id, protocol.NodeResult{Msg: res.Msg})
		}
		return
	}
	for _, id := range slices.Sorted(maps.Keys(res.Nodes)) {
		p.add(id, res.Nodes[id])
	}
}

// resultOf reads the result of job id from the results stream. A result that is not bound to
// the job (another job's, or one a stranger published on its subject) is not the one the run
// applied: it counts as gone, and the record answers.
func (c *Coordinator) resultOf(ctx context.Context, id protocol.JobID) (*protocol.Result, error) {
	raw, err := c.results.GetLastMsgForSubject(ctx, protocol.ResultSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, errResultGone
	}
	if err != nil {
		return nil, err
	}
	var res protocol.Result
	if err := protocol.DecodeResult(raw.Data, &res); err != nil {
		return nil, fmt.Errorf("decode result of %s: %w", id, err)
	}
	if res.ID != id {
		return nil, errResultGone
	}
	if s := c.opts.signer; s != nil && s.CheckResult(&res) != nil {
		return nil, errResultGone
	}
	return &res, nil
}

// nodePage collects one page of nodes as they are fed in order, counting every node.
type nodePage struct {
	req    protocol.RunNodesRequest
	limit  int
	budget int // bytes the page's nodes may take

	nodes          []protocol.RunNode
	size           int
	ok, failed     int
	matching, next int
	full           bool
}

// add feeds the page one node's outcome.
func (p *nodePage) add(id string, nr protocol.NodeResult) {
	if nr.Success {
		p.ok++
	} else {
		p.failed++
	}
	if !p.matches(id, nr) {
		return
	}
	idx := p.matching
	p.matching++
	if idx < p.req.Offset || p.full {
		return
	}
	n := protocol.RunNode{Identity: id, Success: nr.Success, Msg: nr.Msg, Data: capData(nr.Data)}
	b, _ := json.Marshal(n)
	if len(p.nodes) == p.limit || (len(p.nodes) > 0 && p.size+len(b)+1 > p.budget) {
		p.full, p.next = true, idx
		return
	}
	p.nodes = append(p.nodes, n)
	p.size += len(b) + 1
}

// skips reports whether the page shows none of the nodes of a batch of counts n, and if so
// counts them without reading it: the batch's matching nodes all come before the page's offset,
// or after a full page. Only a page without search can tell how many of a batch match.
func (p *nodePage) skips(n batchCount) bool {
	if p.req.Search != "" {
		return false
	}
	m := n.ok + n.failed
	switch p.req.Outcome {
	case protocol.OutcomeOK:
		m = n.ok
	case protocol.OutcomeFailed:
		m = n.failed
	}
	switch {
	case m == 0, p.full, p.matching+m <= p.req.Offset:
	case len(p.nodes) == p.limit && p.matching >= p.req.Offset:
		// The page holds its nodes already: the batch's first matching node starts the next.
		p.full, p.next = true, p.matching
	default:
		return false
	}
	p.ok, p.failed, p.matching = p.ok+n.ok, p.failed+n.failed, p.matching+m
	return true
}

func (p *nodePage) matches(id string, nr protocol.NodeResult) bool {
	switch {
	case p.req.Outcome == protocol.OutcomeOK && !nr.Success, p.req.Outcome == protocol.OutcomeFailed && nr.Success:
		return false
	}
	return p.req.Search == "" || strings.Contains(id, p.req.Search)
}

// response is the page as the API answers it.
func (p *nodePage) response(complete bool) *protocol.RunNodesResponse {
	nodes := p.nodes
	if nodes == nil {
		nodes = []protocol.RunNode{}
	}
	return &protocol.RunNodesResponse{
		Version: protocol.SubmitVersion, Nodes: nodes, TotalMatching: p.matching,
		OK: p.ok, Failed: p.failed, NextOffset: p.next, Complete: complete,
	}
}

// batchCount is how many nodes of a batch succeeded and failed.
type batchCount struct{ ok, failed int }

// maxBatchCounts bounds the batches whose counts a coordinator keeps (a few MB).
const maxBatchCounts = 50000

// batchCounts remembers the counts of the batch results runs.nodes read: an applied batch's
// result never changes, so a page can skip the batches it does not show. The zero value is
// ready; it forgets everything when full.
type batchCounts struct {
	mu     sync.Mutex
	counts map[protocol.JobID]batchCount
}

func (b *batchCounts) get(id protocol.JobID) (batchCount, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.counts[id]
	return n, ok
}

func (b *batchCounts) put(id protocol.JobID, n batchCount) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.counts == nil || len(b.counts) >= maxBatchCounts {
		b.counts = map[protocol.JobID]batchCount{}
	}
	b.counts[id] = n
}
