package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The protocol replay is a one-step run's messages sent with raw JetStream calls and none of
// fleetbook's code: no playbook, no JSON, no templates, no policy, no signing. It is the floor of
// fleetbook's protocol on the machine it runs on, so fleetbook's one-step figure against it says
// how much of a run's cost is fleetbook's own and how much is the messages its guarantees store.
//
// Per run, in fleetbook's order and at the sizes a no-op run's messages have (measured with a tap
// on `>` over 100 runs): the submit request and its reply; the idempotency key (KV create, 167
// bytes), the audit record (273), the run record (KV create, 1,084) and the run message (108,
// deduplicated by id); the coordinator's pull of the run message (up to 16 a request), the
// claim with the step begun (KV update, compare-and-set), the job (244, deduplicated); the
// worker's pull (one job a request), its attempt record (KV create, 136), its result (349,
// deduplicated) and its ack; the run's end (KV update), its events (946) and the run message's
// double ack. Ten stored messages, as a fleetbook one-step run stores. A run of several steps
// has, per step after the first, one more record write, job, pull, attempt record, result and
// ack. It is the protocol at its best: the drivers write on a connection of their own, apart
// from the submits (a server reads each connection on one goroutine), and run messages are
// pulled ahead (Consume) rather than a batch at a time, which left the replay waiting with a
// core idle at about 4,000 runs/s whatever it stored. Its worker slots pull one job a Fetch when
// free, as the product's did before they pulled a job ahead (jspull).
const (
	replaySubmissions = "BENCH_REPLAY_SUBMISSIONS"
	replayRuns        = "BENCH_REPLAY_RUNS"
	replayAttempts    = "BENCH_REPLAY_ATTEMPTS"
	replayAudit       = "BENCH_REPLAY_AUDIT"
	replayRunQueue    = "BENCH_REPLAY_RUNQ"
	replayJobs        = "BENCH_REPLAY_JOBS"
	replayResults     = "BENCH_REPLAY_RESULTS"
	replayEvents      = "BENCH_REPLAY_EVENTS"
	replaySubmit      = "bench.replay.submit"
)

// protocolShape is the protocol a replay sends: fleetbook's, or a variant that leaves some of
// its promises out, to measure what each of them costs (BenchmarkProtocolShapes).
type protocolShape struct {
	// steps is the steps of a run.
	steps int
	// noKey leaves out the idempotency key (a retried submit would start a second run).
	noKey bool
	// noAudit leaves out the audit record.
	noAudit bool
	// claimInCreate folds the claim and the first step's beginning into the record's creation
	// (one record write less a run).
	claimInCreate bool
	// noAttempt leaves out the attempt record (two workers could run one job).
	noAttempt bool
}

// Bodies of the replayed messages, at the sizes of a no-op run's.
var (
	replaySubmitBody = make([]byte, 212)
	replayKeyBody    = make([]byte, 167)
	replayAuditBody  = make([]byte, 273)
	replayRecordBody = make([]byte, 1084)
	replayRunBody    = make([]byte, 108)
	replayJobBody    = make([]byte, 244)
	replayAttempt    = make([]byte, 136)
	replayResultBody = make([]byte, 349)
	replayEventsBody = make([]byte, 946)
)

// replay holds the connections and stores of one protocol replay.
type replay struct {
	shape protocolShape
	// cjs submits, djs drives, wjs works; each has the buckets it writes.
	cjs, wjs, djs       jetstream.JetStream
	keys, runs, attempt jetstream.KeyValue
	druns               jetstream.KeyValue
	// done routes each run's end to the client waiting for it.
	mu   sync.Mutex
	done map[string]chan struct{}
	// results routes each job's result to the coordinator goroutine waiting for it.
	results map[string]chan struct{}
	// handoffs are the revisions of the records submits created, for their claims.
	handoffs map[string]uint64
}

// protocolStepsPerSecond keeps inflight replayed runs of shape going, each client starting a new
// run as soon as its last one ended, until lim (in steps); the worker has slots slots, as the
// product's.
func protocolStepsPerSecond(ctx context.Context, e *Env, shape protocolShape, slots, inflight int, lim limit) (_ rate, err error) {
	_, cjs, err := e.Connect("bench replay coordinator")
	if err != nil {
		return rate{}, err
	}
	_, djs, err := e.Connect("bench replay driver")
	if err != nil {
		return rate{}, err
	}
	_, wjs, err := e.Connect("bench replay worker")
	if err != nil {
		return rate{}, err
	}
	clnc, _, err := e.Connect("bench replay client")
	if err != nil {
		return rate{}, err
	}
	r := &replay{shape: shape, cjs: cjs, djs: djs, wjs: wjs, done: map[string]chan struct{}{}, results: map[string]chan struct{}{},
		handoffs: map[string]uint64{}}
	cleanup, err := r.provision(ctx)
	defer cleanup()
	if err != nil {
		return rate{}, err
	}
	if r.druns, err = djs.KeyValue(ctx, replayRuns); err != nil {
		return rate{}, err
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Stopped first, then waited for.
	defer wg.Wait()
	defer stop()
	if err := r.serve(rctx, &wg, slots); err != nil {
		return rate{}, err
	}
	ends, err := clnc.Subscribe("bench.replay.events.>", func(m *nats.Msg) { r.signal(r.done, lastToken(m.Subject)) })
	if err != nil {
		return rate{}, err
	}
	defer func() { _ = ends.Unsubscribe() }()

	return sustain(shape.steps, inflight, lim, func() error { return r.run(ctx, clnc) })
}

// provision creates the replay's buckets and streams, configured as fleetbook's are; cleanup
// removes whatever was created.
func (r *replay) provision(ctx context.Context) (cleanup func(), err error) {
	var drops []func()
	cleanup = func() {
		for _, drop := range drops {
			drop()
		}
	}
	bg := context.WithoutCancel(ctx)
	for _, kv := range []struct {
		name    string
		history uint8
		into    *jetstream.KeyValue
	}{{replaySubmissions, 1, &r.keys}, {replayRuns, 5, &r.runs}, {replayAttempts, 1, &r.attempt}} {
		if *kv.into, err = r.cjs.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: kv.name, History: kv.history, Storage: jetstream.FileStorage}); err != nil {
			return cleanup, fmt.Errorf("replay bucket %s: %w", kv.name, err)
		}
		name := kv.name
		drops = append(drops, func() { _ = r.cjs.DeleteKeyValue(bg, name) })
	}
	for _, sc := range []jetstream.StreamConfig{
		{Name: replayAudit, Subjects: []string{"bench.replay.audit.>"}},
		{Name: replayRunQueue, Subjects: []string{"bench.replay.runs.>"}, Retention: jetstream.WorkQueuePolicy},
		{Name: replayJobs, Subjects: []string{"bench.replay.jobs.>"}, Retention: jetstream.WorkQueuePolicy},
		{Name: replayResults, Subjects: []string{"bench.replay.results.>"}, AllowDirect: true},
		{Name: replayEvents, Subjects: []string{"bench.replay.events.>"}},
	} {
		sc.Storage = jetstream.FileStorage
		if _, err := r.cjs.CreateOrUpdateStream(ctx, sc); err != nil {
			return cleanup, fmt.Errorf("replay stream %s: %w", sc.Name, err)
		}
		name := sc.Name
		drops = append(drops, func() { _ = r.cjs.DeleteStream(bg, name) })
	}
	return cleanup, nil
}

// serve starts the replay's coordinator (submit handler, run pull, result routing) and worker.
func (r *replay) serve(ctx context.Context, wg *sync.WaitGroup, slots int) error {
	nc := r.cjs.Conn()
	submit, err := nc.QueueSubscribe(replaySubmit, "coordinators", func(m *nats.Msg) {
		wg.Go(func() { r.submit(ctx, m) })
	})
	if err != nil {
		return err
	}
	results, err := nc.Subscribe("bench.replay.results.>", func(m *nats.Msg) { r.signal(r.results, lastToken(m.Subject)) })
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { _ = submit.Unsubscribe(); _ = results.Unsubscribe() })

	runs, err := r.cjs.CreateOrUpdateConsumer(ctx, replayRunQueue, jetstream.ConsumerConfig{
		Durable: "coordinators", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: 10000,
	})
	if err != nil {
		return err
	}
	jobs, err := r.wjs.CreateOrUpdateConsumer(ctx, replayJobs, jetstream.ConsumerConfig{
		Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: 10000,
	})
	if err != nil {
		return err
	}
	cc, err := runs.Consume(func(m jetstream.Msg) { wg.Go(func() { r.drive(ctx, m) }) }, jetstream.PullMaxMessages(64))
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, cc.Stop)
	for range slots {
		wg.Go(func() {
			for ctx.Err() == nil {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				m, err := jobs.Next(jetstream.FetchContext(pctx))
				cancel()
				if err == nil {
					r.work(ctx, m)
				}
			}
		})
	}
	return nil
}

// run is one replayed run as its client sees it: the submit request, then the run's end.
func (r *replay) run(ctx context.Context, nc *nats.Conn) error {
	id := uuid.NewString()
	end := r.expect(r.done, id)
	body := append([]byte(id), replaySubmitBody[len(id):]...)
	if _, err := nc.RequestWithContext(ctx, replaySubmit, body); err != nil {
		return fmt.Errorf("replay submit: %w", err)
	}
	select {
	case <-end:
		return nil
	case <-time.After(runTimeout):
		return errors.New("replay: run did not end within the run timeout")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// submit stores a run as fleetbook's submit does and answers the request.
func (r *replay) submit(ctx context.Context, m *nats.Msg) {
	id := string(m.Data[:36])
	if !r.shape.noKey {
		if _, err := r.keys.Create(ctx, id, replayKeyBody); err != nil {
			return
		}
	}
	if !r.shape.noAudit {
		if _, err := r.cjs.Publish(ctx, "bench.replay.audit."+id, replayAuditBody); err != nil {
			return
		}
	}
	rev, err := r.runs.Create(ctx, id, replayRecordBody)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.handoffs[id] = rev
	r.mu.Unlock()
	if _, err := r.cjs.Publish(ctx, "bench.replay.runs."+id, replayRunBody, jetstream.WithMsgID(id)); err != nil {
		return
	}
	_ = m.Respond(replayRunBody)
}

// drive is the coordinator's part of one run, from its run message to its end: each step
// begins in a record write (the first with the claim, the others with the end of the step
// before), then its job is published and its result awaited.
func (r *replay) drive(ctx context.Context, m jetstream.Msg) {
	id := lastToken(m.Subject())
	// The submit handed the record's revision over, as fleetbook's handoff does: no read.
	r.mu.Lock()
	rev := r.handoffs[id]
	delete(r.handoffs, id)
	r.mu.Unlock()
	for step := range r.shape.steps {
		if step > 0 || !r.shape.claimInCreate {
			var err error
			if rev, err = r.druns.Update(ctx, id, replayRecordBody, rev); err != nil {
				return
			}
		}
		job := fmt.Sprintf("%s-%d", id, step)
		result := r.expect(r.results, job)
		if _, err := r.djs.Publish(ctx, "bench.replay.jobs."+job, replayJobBody, jetstream.WithMsgID(job)); err != nil {
			return
		}
		select {
		case <-result:
		case <-ctx.Done():
			return
		}
	}
	if _, err := r.druns.Update(ctx, id, replayRecordBody, rev); err != nil {
		return
	}
	if _, err := r.djs.Publish(ctx, "bench.replay.events."+id, replayEventsBody); err != nil {
		return
	}
	_ = m.DoubleAck(ctx)
}

// work is the worker's part of one job: hold it, store its result, ack it.
func (r *replay) work(ctx context.Context, m jetstream.Msg) {
	id := lastToken(m.Subject())
	if !r.shape.noAttempt {
		if _, err := r.attempt.Create(ctx, id, replayAttempt); err != nil {
			_ = m.Nak()
			return
		}
	}
	if _, err := r.wjs.Publish(ctx, "bench.replay.results."+id, replayResultBody, jetstream.WithMsgID(id)); err != nil {
		_ = m.Nak()
		return
	}
	_ = m.Ack()
}

// expect registers a wait for id in routes, which signal ends; a signal that comes first is
// kept for it.
func (r *replay) expect(routes map[string]chan struct{}, id string) <-chan struct{} {
	return r.meet(routes, id)
}

func (r *replay) signal(routes map[string]chan struct{}, id string) { close(r.meet(routes, id)) }

// meet is the channel both sides of id share in routes: the first to come makes it, the second
// takes it out.
func (r *replay) meet(routes map[string]chan struct{}, id string) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := routes[id]; ok {
		delete(routes, id)
		return ch
	}
	ch := make(chan struct{})
	routes[id] = ch
	return ch
}

func lastToken(subject string) string { return subject[strings.LastIndexByte(subject, '.')+1:] }
