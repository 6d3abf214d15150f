package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// maxRecordedNodes caps the per-node outcomes a step keeps in the run record (and so in the
// report): the record must stay far below the server's message size limit however many nodes a
// step reaches. Counts are always complete; failures are kept before successes.
const maxRecordedNodes = 1000

// maxRecordedNodeData bounds the bytes of node replies (data) a step keeps in the run record:
// 1,000 replies of up to 32 KB each would not fit the server's message limit, and a record that
// does not fit is never stored. The nodes past it are kept without their data; runs.nodes has it.
const maxRecordedNodeData = 256 << 10

// batchPlan says how an rpc attempt is cut into jobs.
type batchPlan struct {
	size int
	// sequential batches (the task's batch_size) go one after another with batch_sleep_time
	// between them; chunks made only for parallelism all go at once.
	sequential bool
	sleep      time.Duration
	// maxFail is the failed-node percentage above which the step stops and fails; -1 means any
	// failure fails the step but every batch is still sent (Choria's default).
	maxFail float64
	// summarize counts the values of the replies' data (`post: [summarize]`).
	summarize bool
}

// batchKeys are the rpc properties planOf reads.
var batchKeys = []string{"batch_size", "batch_sleep_time", "max_fail_percentage", "post"}

// planOf reads the batching properties of an rpc task, rendered with scope: a templated
// batch_size is batched as its value says, and one that renders to no valid size (-7) is an
// error naming the property rather than "no batching". chunk is the size of the parallel jobs a
// step without batch_size is cut into.
func planOf(task playbooks.Task, scope playbooks.Scope, chunk int) (batchPlan, error) {
	p := batchPlan{size: chunk, maxFail: -1}
	props := map[string]any{}
	for _, k := range batchKeys {
		if v, ok := task.Properties[k]; ok {
			props[k] = v
		}
	}
	props, err := renderProps(props, scope)
	if err == nil {
		err = playbooks.CheckRenderedKeys(task.Type, props, batchKeys...)
	}
	if err != nil {
		return p, err
	}
	if n, ok := intProp(props["batch_size"]); ok && n > 0 {
		p.size, p.sequential = n, true
	}
	if f, ok := floatProp(props["batch_sleep_time"]); ok && f > 0 {
		p.sleep = time.Duration(f * float64(time.Second))
	}
	if f, ok := floatProp(props["max_fail_percentage"]); ok {
		p.maxFail = f
	}
	if post, ok := props["post"].([]any); ok {
		p.summarize = slices.Contains(post, any("summarize"))
	}
	return p, nil
}

// batching is how many jobs of what size an attempt of task is cut into: one for every task
// but rpc.
func batching(job *protocol.Job, plan batchPlan) (count, size int) {
	if job.Type != protocol.TaskRPC || len(job.Targets) == 0 {
		return 1, 0
	}
	return (len(job.Targets) + plan.size - 1) / plan.size, plan.size
}

// batchJob is batch b of an rpc attempt: the same job for a slice of the targets.
func batchJob(job *protocol.Job, b, size int) *protocol.Job {
	bj := *job
	bj.ID.Batch = b
	lo, hi := b*size, min((b+1)*size, len(job.Targets))
	bj.Targets = job.Targets[lo:hi]
	return &bj
}

// attempt waits for the outcome of the attempt in flight: its one job, or every batch of an rpc
// step, which are published as their turn comes and applied one by one, so a coordinator taking
// over continues with the batches not yet applied.
func (d *driver) attempt(ctx context.Context, key string, task playbooks.Task, job *protocol.Job) (*protocol.Result, error) {
	st := d.find(key)
	if job.Type != protocol.TaskRPC {
		return d.await(ctx, job)
	}
	plan, err := planOf(task, d.scope(st.Seq), d.c.opts.rpcChunk)
	if err != nil {
		// Rendered the same way when the attempt started, so only a changed scope gets here.
		return d.neverRan(job.ID, "could not render the task: "+err.Error()), nil
	}
	var todo []*protocol.Job
	for b := range st.Batches {
		if !slices.Contains(st.DoneBatches, b) {
			todo = append(todo, batchJob(job, b, st.BatchSize))
		}
	}
	stopped := false
	applyBatch := func(res *protocol.Result) (bool, error) {
		if err := d.applyBatch(ctx, key, res, plan.summarize); err != nil {
			return true, err
		}
		st := d.find(key)
		ev := d.stepEvent(protocol.EventTaskProgress, st)
		ev.NodesOK, ev.NodesFailed, ev.NodesTotal = st.NodesOK, st.NodesFailed, len(job.Targets)
		d.event(ctx, ev, fmt.Sprintf("%d/%d/batch/%d", st.Seq, st.Attempt, res.ID.Batch))
		// Parallel chunks are all sent already: the limit is judged on the whole step at the end.
		stopped = plan.sequential && plan.overLimit(d.find(key))
		return stopped, nil
	}
	if !plan.sequential {
		if err := d.collect(ctx, todo, applyBatch); err != nil {
			return nil, err
		}
	} else {
		for i, bj := range todo {
			if i > 0 && plan.sleep > 0 {
				if err := sleep(ctx, plan.sleep); err != nil {
					return nil, err
				}
			}
			if err := d.collect(ctx, []*protocol.Job{bj}, applyBatch); err != nil {
				return nil, err
			}
			if stopped {
				break
			}
		}
	}
	return d.batchOutcome(key, job, plan, stopped), nil
}

// overLimit reports whether the failures so far exceed the step's max_fail_percentage.
func (p batchPlan) overLimit(st *protocol.StepRecord) bool {
	if p.maxFail < 0 || st.NodesFailed == 0 {
		return false
	}
	total := st.NodesOK + st.NodesFailed
	return float64(st.NodesFailed)*100/float64(total) > p.maxFail
}

// applyBatch records one batch's per-node outcomes. It is idempotent: a batch already recorded
// changes nothing.
func (d *driver) applyBatch(ctx context.Context, key string, res *protocol.Result, summarize bool) error {
	return d.update(ctx, func(rec *protocol.RunRecord) {
		s := stepIn(rec, key)
		if slices.Contains(s.DoneBatches, res.ID.Batch) {
			return
		}
		s.DoneBatches = append(s.DoneBatches, res.ID.Batch)
		if s.Nodes == nil {
			s.Nodes = map[string]protocol.NodeResult{}
		}
		if summarize {
			s.Summary = summarizeInto(s.Summary, res.Nodes)
		}
		kept := -1 // the bytes of the data kept so far, once needed
		for _, ok := range []bool{false, true} {
			for id, nr := range res.Nodes {
				if nr.Success != ok {
					continue
				}
				if ok {
					s.NodesOK++
				} else {
					s.NodesFailed++
				}
				if len(s.Nodes) < maxRecordedNodes {
					if kept < 0 {
						kept = nodeDataSize(s.Nodes)
					}
					nr.Data = capData(nr.Data)
					if n := jsonSize(nr.Data); kept+n <= maxRecordedNodeData {
						kept += n
					} else {
						nr.Data = nil
					}
					s.Nodes[id] = nr
				}
			}
		}
		if len(res.Nodes) == 0 && !res.Success {
			// The whole batch failed before reaching any node (an undecodable job, say).
			s.NodesFailed += len(batchTargets(s, res.ID.Batch))
			s.Msg = res.Msg
		}
	})
}

// nodeDataSize is the bytes the nodes' data take in the record.
func nodeDataSize(nodes map[string]protocol.NodeResult) int {
	n := 0
	for _, nr := range nodes {
		n += jsonSize(nr.Data)
	}
	return n
}

// jsonSize is the length of v's JSON encoding; 0 for nil.
func jsonSize(v any) int {
	if v == nil {
		return 0
	}
	b, _ := json.Marshal(v)
	return len(b)
}

// batchTargets are the targets of batch b of the step's attempt in flight.
func batchTargets(s *protocol.StepRecord, b int) []string {
	if s.Job == nil || s.BatchSize == 0 {
		return nil
	}
	return batchJob(s.Job, b, s.BatchSize).Targets
}

// batchOutcome sums an rpc attempt up as one result.
func (d *driver) batchOutcome(key string, job *protocol.Job, plan batchPlan, stopped bool) *protocol.Result {
	st := d.find(key)
	total := len(job.Targets)
	res := &protocol.Result{ID: job.ID, Nodes: st.Nodes, StartedAt: st.StartedAt, EndedAt: time.Now().UTC()}
	switch {
	case stopped:
		tried := st.NodesOK + st.NodesFailed
		res.Msg = fmt.Sprintf("stopped after %d of %d nodes: %d failed (%.0f%%), over max_fail_percentage %g; %d nodes not tried",
			tried, total, st.NodesFailed, float64(st.NodesFailed)*100/float64(tried), plan.maxFail, total-tried)
	case st.NodesFailed == 0:
		res.Success = true
		res.Msg = fmt.Sprintf("%d/%d nodes ok", st.NodesOK, total)
	case plan.maxFail >= 0 && !plan.overLimit(st):
		res.Success = true
		res.Msg = fmt.Sprintf("%d/%d nodes ok, %d failed (within max_fail_percentage %g)", st.NodesOK, total, st.NodesFailed, plan.maxFail)
	default:
		res.Msg = fmt.Sprintf("%d/%d nodes ok, %d failed", st.NodesOK, total, st.NodesFailed)
	}
	data := map[string]any{"ok": st.NodesOK, "failed": st.NodesFailed, "total": total}
	if plan.summarize {
		data["summary"] = st.Summary
	}
	res.Data = data
	return res
}

// summarizeInto adds the replies' data to a summary: for each key of each reply's data, how many
// nodes replied each value (values other than text are counted by their JSON form).
func summarizeInto(summary map[string]map[string]int, nodes map[string]protocol.NodeResult) map[string]map[string]int {
	if summary == nil {
		summary = map[string]map[string]int{}
	}
	for _, nr := range nodes {
		data, _ := nr.Data.(map[string]any)
		for k, v := range data {
			text, ok := v.(string)
			if !ok {
				b, _ := json.Marshal(v)
				text = string(b)
			}
			if summary[k] == nil {
				summary[k] = map[string]int{}
			}
			summary[k][text]++
		}
	}
	return summary
}

// intProp and floatProp read a numeric task property as decoded from YAML or JSON.
func intProp(v any) (int, bool) {
	f, ok := floatProp(v)
	return int(f), ok
}

func floatProp(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
