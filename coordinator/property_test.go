package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// Row C5 of the fault matrix (docs/reliability.md). The coordinator has no pure reducer, so the
// property test drives the real one on an embedded server and plays the worker itself, steered
// per run by a PRNG seeded with the run's seed (an input of the run, so its jobs carry it): jobs
// handed back before any result (a worker dying), results published twice, a second copy with
// the opposite outcome under the same message id (two workers ran one job), copies of earlier
// attempts' results published late (before and after the result awaited, and after the run
// ended), and cancellations at random moments. Every revision of every run record is then
// checked against the invariants:
//
//   - each step ends at most once, and a step's end never changes afterwards;
//   - a run's record never changes once its status is final;
//   - no step begins (and no job of it is received) before the step before it succeeded;
//   - a step's attempt numbers only increase, and jobs of a step arrive in increasing attempts;
//   - a step ends with the outcome the results stream stored for its last attempt (not a late
//     or duplicate copy), unless the run was halted; a failed step used all its tries.
//
// FLEETBOOK_FAULTS_LONG=1 raises the number of seeds from 1,000 to 10,000.
func TestPropertyDuplicateLateResultsAndCancels(t *testing.T) {
	seeds := 1000
	if os.Getenv("FLEETBOOK_FAULTS_LONG") == "1" {
		seeds = 10000
	}
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("prop")
	ctx := context.Background()
	// The coordinator provisions at start; the record's whole history is kept only once it has
	// (the bucket keeps 5 revisions), so every transition can be checked afterwards.
	natstest.Eventually(t, 30*time.Second, func() error { _, err := e.client.List(ctx, 1); return err })
	keepWholeHistory(t, e.js)
	runs := mustRuns(t, e)
	w := startChaosWorker(t, e)

	const steps, tries, inFlight = 4, 3, 20
	doc := header + "inputs:\n  seed:\n    type: String\n    description: seed\ntasks:\n"
	for i := 1; i <= steps; i++ {
		doc += shell(fmt.Sprintf("step%d", i), fmt.Sprintf("tries: %d", tries), "try_sleep: 0",
			"environment:\n        SEED: \"{{{ inputs.seed }}}\"")
	}
	t0 := time.Now()
	ids := make([]string, seeds)
	var mu sync.Mutex
	var stuck []string
	next := make(chan int)
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			for seed := range next {
				ids[seed] = e.submitKeyed(doc, fmt.Sprintf("c5-%d", seed), map[string]any{"seed": strconv.Itoa(seed)})
				if ids[seed] == "" {
					continue
				}
				wctx, cancel := context.WithTimeout(ctx, time.Minute)
				_, err := runs.WaitFinal(wctx, ids[seed])
				cancel()
				if err != nil {
					mu.Lock()
					stuck = append(stuck, fmt.Sprintf("seed %d: run %s not final: %v", seed, ids[seed], err))
					mu.Unlock()
					continue
				}
				// Late copies of every attempt's result, after the run ended.
				w.publishLate(ids[seed], true)
			}
		})
	}
	for seed := range seeds {
		next <- seed
	}
	close(next)
	wg.Wait()
	w.cancels.Wait()
	took := time.Since(t0)
	for _, s := range stuck {
		t.Error(s)
	}

	kv, err := e.js.KeyValue(ctx, protocol.RunsBucket)
	if err != nil {
		t.Fatal(err)
	}
	var st propStats
	var problems []string
	for seed, id := range ids {
		if id == "" {
			continue
		}
		hist, err := kv.History(ctx, id)
		if err != nil {
			t.Fatalf("history of run %s: %v", id, err)
		}
		for _, p := range checkRunHistory(hist, w.deliveries(id), w.storedOf(id), steps, tries, &st) {
			problems = append(problems, fmt.Sprintf("seed %d run %s: %s", seed, id, p))
		}
	}
	c := w.counts()
	t.Logf("ROW C5: %d seeds in %s: %d success, %d failed, %d cancelled; %d revisions checked; worker: %d jobs received, %d handed back, %d duplicate results, %d conflicting duplicates, %d late results (%d after the run ended), %d cancels; %d invariant violations",
		seeds, took.Round(time.Millisecond), st.success, st.failed, st.cancelled, st.revisions,
		c.jobs, c.naks, c.dups, c.conflicting, c.late, c.lateAfterEnd, c.cancels, len(problems))
	if len(problems) > 20 {
		problems = problems[:20]
	}
	if len(problems) > 0 {
		t.Fatalf("invariants violated:\n%s", strings.Join(problems, "\n"))
	}
	if c.dups == 0 || c.conflicting == 0 || c.late == 0 || c.lateAfterEnd == 0 || c.naks == 0 || st.cancelled == 0 {
		t.Fatalf("a fault was never injected, the row proves less than it says: %+v, %d cancelled", c, st.cancelled)
	}
}

// keepWholeHistory makes the runs bucket keep every revision of a record.
func keepWholeHistory(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, protocol.BucketStreamName(protocol.RunsBucket))
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgsPerSubject = 1 << 20
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// submitKeyed submits doc under key and returns the run id.
func (e *env) submitKeyed(doc, key string, inputs map[string]any) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := e.client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, Inputs: inputs, IdempotencyKey: key})
	if err != nil {
		e.t.Errorf("submit %s: %v", key, err)
		return ""
	}
	return resp.RunID
}

// chaosWorker plays the worker pool for the property test: it takes each job and, as the PRNG
// of the job's run decides, hands it back, answers it (twice, or with a conflicting copy), keeps
// late copies of its result, publishes earlier late copies, or cancels the run.
type chaosWorker struct {
	t *testing.T
	e *env

	mu   sync.Mutex
	runs map[string]*chaosRun
	n    chaosCounts
	// cancels are the cancel requests in flight.
	cancels sync.WaitGroup
}

// chaosRun is what the worker knows of one run.
type chaosRun struct {
	mu  sync.Mutex
	rng *rand.Rand
	// received lists the job ids in the order they were first received.
	received []protocol.JobID
	seen     map[protocol.JobID]bool
	// stored is the outcome of the result the results stream stored for each job.
	stored map[protocol.JobID]protocol.Result
	late   []protocol.Result
}

type chaosCounts struct {
	jobs, naks, dups, conflicting, late, lateAfterEnd, cancels int
}

func startChaosWorker(t *testing.T, e *env) *chaosWorker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cons, err := e.js.CreateOrUpdateConsumer(ctx, protocol.JobsStreamName, jetstream.ConsumerConfig{
		Durable: protocol.JobsConsumer(protocol.DefaultPool), AckPolicy: jetstream.AckExplicitPolicy,
		FilterSubject: "fleetbook.jobs.default.>", AckWait: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &chaosWorker{t: t, e: e, runs: map[string]*chaosRun{}}
	var handlers sync.WaitGroup
	cc, err := cons.Consume(func(m jetstream.Msg) { handlers.Go(func() { w.handle(ctx, m) }) }, jetstream.PullMaxMessages(64))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Stop(); handlers.Wait() })
	return w
}

// run returns the state of job's run, seeding its PRNG from the seed in the job's command.
func (w *chaosWorker) run(job *protocol.Job) *chaosRun {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.runs[job.ID.RunID]
	if r == nil {
		seed, err := strconv.ParseUint(job.Shell.Environment["SEED"], 10, 64)
		if err != nil {
			w.t.Errorf("job %s: no seed in its environment %v", job.ID, job.Shell.Environment)
		}
		r = &chaosRun{rng: rand.New(rand.NewPCG(splitmix(seed), splitmix(seed^0xc5))), seen: map[protocol.JobID]bool{}, stored: map[protocol.JobID]protocol.Result{}}
		w.runs[job.ID.RunID] = r
	}
	return r
}

// splitmix scrambles a seed: PCG's first outputs for neighbouring seeds are alike.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (w *chaosWorker) count(f func(*chaosCounts)) {
	w.mu.Lock()
	f(&w.n)
	w.mu.Unlock()
}

func (w *chaosWorker) handle(ctx context.Context, m jetstream.Msg) {
	var job protocol.Job
	if err := json.Unmarshal(m.Data(), &job); err != nil {
		w.t.Errorf("bad job: %v", err)
		return
	}
	r := w.run(&job)
	r.mu.Lock()
	defer r.mu.Unlock()
	w.count(func(c *chaosCounts) { c.jobs++ })
	if !r.seen[job.ID] {
		r.seen[job.ID] = true
		r.received = append(r.received, job.ID)
	}
	rng := r.rng
	md, _ := m.Metadata()
	if md != nil && md.NumDelivered == 1 && rng.Float64() < 0.08 {
		// The worker died before answering: the job comes back.
		w.count(func(c *chaosCounts) { c.naks++ })
		_ = m.Nak()
		return
	}
	if rng.Float64() < 0.06 {
		w.cancel(job.ID.RunID)
	}
	if rng.Float64() < 0.5 {
		w.publishLateLocked(ctx, r, false)
	}
	res := protocol.Result{Version: protocol.JobVersion, ID: job.ID, Worker: "chaos", Success: rng.Float64() < 0.65,
		StartedAt: time.Now().UTC(), EndedAt: time.Now().UTC()}
	res.Msg = fmt.Sprintf("attempt %d %s", job.ID.Attempt, map[bool]string{true: "ok", false: "failed"}[res.Success])
	if !res.Success {
		res.ExitCode = 1
	}
	if stored, ok := w.publish(ctx, res); ok {
		r.stored[job.ID] = stored
	}
	switch p := rng.Float64(); {
	case p < 0.25:
		w.count(func(c *chaosCounts) { c.dups++ })
		w.publish(ctx, res)
	case p < 0.40:
		other := res
		other.Success = !res.Success
		other.Msg = "conflicting copy: " + res.Msg
		w.count(func(c *chaosCounts) { c.conflicting++ })
		w.publish(ctx, other)
	}
	if rng.Float64() < 0.3 {
		late := res
		late.Success = rng.Float64() < 0.5
		late.Msg = "late copy: " + res.Msg
		r.late = append(r.late, late)
	}
	if rng.Float64() < 0.03 {
		w.cancel(job.ID.RunID)
	}
	_ = m.Ack()
}

// publish publishes res under its job's message id and returns, when the stream stored this
// copy (it was not a duplicate), the result as stored.
func (w *chaosWorker) publish(ctx context.Context, res protocol.Result) (protocol.Result, bool) {
	body, err := json.Marshal(res)
	if err != nil {
		w.t.Error(err)
		return res, false
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := w.e.js.Publish(pctx, protocol.ResultSubject(res.ID), body, jetstream.WithMsgID(res.ID.String()))
	if err != nil {
		if ctx.Err() == nil {
			w.t.Errorf("publish result %s: %v", res.ID, err)
		}
		return res, false
	}
	return res, !ack.Duplicate
}

// cancel asks for run id to be cancelled, without waiting for the answer.
func (w *chaosWorker) cancel(id string) {
	w.count(func(c *chaosCounts) { c.cancels++ })
	w.cancels.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := w.e.client.Cancel(ctx, id, "chaos"); err != nil {
			w.t.Errorf("cancel %s: %v", id, err)
		}
	})
}

// publishLate publishes the late copies kept for run id; ended says the run is over.
func (w *chaosWorker) publishLate(id string, ended bool) {
	w.mu.Lock()
	r := w.runs[id]
	w.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// One more copy of the last result received, as if a redelivery answered it again.
	if n := len(r.received); ended && n > 0 {
		if res, ok := r.stored[r.received[n-1]]; ok {
			res.Msg, res.Success = "after the end: "+res.Msg, !res.Success
			r.late = append(r.late, res)
		}
	}
	w.publishLateLocked(context.Background(), r, ended)
}

func (w *chaosWorker) publishLateLocked(ctx context.Context, r *chaosRun, ended bool) {
	for _, res := range r.late {
		w.publish(ctx, res)
	}
	w.count(func(c *chaosCounts) {
		c.late += len(r.late)
		if ended {
			c.lateAfterEnd += len(r.late)
		}
	})
	r.late = nil
}

// deliveries returns the job ids of run id in the order they were first received.
func (w *chaosWorker) deliveries(id string) []protocol.JobID {
	w.mu.Lock()
	r := w.runs[id]
	w.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protocol.JobID(nil), r.received...)
}

// storedOf returns the results the stream stored for run id's jobs.
func (w *chaosWorker) storedOf(id string) map[protocol.JobID]protocol.Result {
	w.mu.Lock()
	r := w.runs[id]
	w.mu.Unlock()
	out := map[protocol.JobID]protocol.Result{}
	if r == nil {
		return out
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range r.stored {
		out[k] = v
	}
	return out
}

func (w *chaosWorker) counts() chaosCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// propStats sums up the runs checked.
type propStats struct {
	success, failed, cancelled, revisions int
}

// checkRunHistory checks one run's record revisions (oldest first), the jobs the worker received
// and the results the stream stored against the invariants of the property test.
func checkRunHistory(hist []jetstream.KeyValueEntry, received []protocol.JobID, stored map[protocol.JobID]protocol.Result, steps, tries int, st *propStats) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	var recs []*protocol.RunRecord
	var final []byte
	jobsRecorded := map[protocol.JobID]bool{}
	ends := map[string]protocol.StepRecord{}
	attempts := map[string]int{}
	for _, e := range hist {
		if e.Operation() != jetstream.KeyValuePut {
			bad("revision %d is a %s", e.Revision(), e.Operation())
			continue
		}
		st.revisions++
		if final != nil {
			if !bytes.Equal(e.Value(), final) {
				bad("revision %d changed the record after its final status", e.Revision())
			}
			continue
		}
		var rec protocol.RunRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			bad("revision %d: %v", e.Revision(), err)
			continue
		}
		recs = append(recs, &rec)
		for i, s := range rec.Steps {
			if s.Seq != i+1 || s.Key != fmt.Sprintf("tasks[%d]", i) {
				bad("revision %d: step %d is seq %d key %s", e.Revision(), i+1, s.Seq, s.Key)
			}
			for _, prev := range rec.Steps[:i] {
				if !prev.Done || !prev.Success {
					bad("revision %d: step %d begun while step %d is done=%v success=%v", e.Revision(), s.Seq, prev.Seq, prev.Done, prev.Success)
				}
			}
			if s.Attempt < attempts[s.Key] {
				bad("revision %d: step %d attempt went back from %d to %d", e.Revision(), s.Seq, attempts[s.Key], s.Attempt)
			}
			attempts[s.Key] = s.Attempt
			if s.Attempt > tries {
				bad("revision %d: step %d attempt %d of %d tries", e.Revision(), s.Seq, s.Attempt, tries)
			}
			if s.Job != nil {
				if s.Job.ID.Attempt != s.Attempt || s.Job.ID.Step != s.Seq {
					bad("revision %d: step %d attempt %d records job %s", e.Revision(), s.Seq, s.Attempt, s.Job.ID)
				}
				jobsRecorded[s.Job.ID] = true
			}
			if end, ok := ends[s.Key]; ok {
				if !s.Done || s.Success != end.Success || s.Attempt != end.Attempt || s.Msg != end.Msg {
					bad("revision %d: step %d ended again or changed its end (%v/%d %q → done=%v %v/%d %q)", e.Revision(), s.Seq,
						end.Success, end.Attempt, end.Msg, s.Done, s.Success, s.Attempt, s.Msg)
				}
			} else if s.Done {
				ends[s.Key] = s
			}
		}
		if len(rec.Steps) < len(ends) {
			bad("revision %d lost steps", e.Revision())
		}
		if rec.Status.Final() {
			final = e.Value()
		}
	}
	if final == nil {
		return append(probs, "no revision with a final status")
	}
	last := recs[len(recs)-1]
	halted := last.CancelRequested
	switch last.Status {
	case protocol.StatusSuccess:
		st.success++
		if len(last.Steps) != steps {
			bad("succeeded with %d of %d steps", len(last.Steps), steps)
		}
	case protocol.StatusFailed:
		st.failed++
	case protocol.StatusCancelled:
		st.cancelled++
		if !halted {
			bad("cancelled without a cancel request")
		}
	}
	for _, s := range last.Steps {
		if !s.Done {
			bad("run %s with step %d not done", last.Status, s.Seq)
			continue
		}
		if strings.HasPrefix(s.Msg, "cancelled:") {
			continue // halted: the step ended by the cancel, not by a result
		}
		res, ok := stored[protocol.JobID{RunID: last.ID, Step: s.Seq, Attempt: s.Attempt}]
		switch {
		case !ok:
			bad("step %d ended at attempt %d, of which no result was stored", s.Seq, s.Attempt)
		case res.Success != s.Success || res.Msg != s.Msg:
			bad("step %d ended %v %q, but its attempt %d's stored result is %v %q", s.Seq, s.Success, s.Msg, s.Attempt, res.Success, res.Msg)
		case !s.Success && s.Attempt < tries:
			bad("step %d failed after %d of %d tries", s.Seq, s.Attempt, tries)
		}
	}
	lastAttempt := map[int]int{}
	for _, id := range received {
		if !jobsRecorded[id] {
			bad("job %s received but never recorded in the run", id)
		}
		if id.Attempt <= lastAttempt[id.Step] {
			bad("job %s received after attempt %d of its step", id, lastAttempt[id.Step])
		}
		lastAttempt[id.Step] = id.Attempt
	}
	return probs
}
