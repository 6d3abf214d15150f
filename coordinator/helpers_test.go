package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// errNotYet is what an Eventually condition returns while what it waits for has not happened.
var errNotYet = errors.New("not yet")

// env is one embedded server with fleetbook's streams, and a client.
type env struct {
	t      *testing.T
	url    string
	nc     *nats.Conn
	js     jetstream.JetStream
	client *Client
}

func newEnv(t *testing.T, store kvstore.Config) *env {
	t.Helper()
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s.ClientURL())
	ctx := context.Background()
	if err := kvstore.Provision(ctx, js, store); err != nil {
		t.Fatal(err)
	}
	client, err := NewClient(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, url: s.ClientURL(), nc: nc, js: js, client: client}
}

// startCoordinator runs a coordinator on its own connection until the test ends. The returned
// function kills it abruptly: the connection drops before anything can be acknowledged, as with
// kill -9.
func (e *env) startCoordinator(name string, opts ...Option) (kill func()) {
	e.t.Helper()
	nc, _ := natstest.Connect(e.t, e.url)
	opts = append([]Option{WithName(name), WithLease(time.Second), WithReconcile(200 * time.Millisecond)}, opts...)
	_, stop := e.launch(nc, opts...)
	var once sync.Once
	kill = func() {
		once.Do(func() {
			nc.Close()
			stop()
		})
	}
	e.t.Cleanup(kill)
	return kill
}

// runCoordinatorOn runs a coordinator with opts on nc until the test ends, for a test that reads
// the connection's statistics or the coordinator's counters.
func (e *env) runCoordinatorOn(nc *nats.Conn, opts ...Option) *Coordinator {
	e.t.Helper()
	c, stop := e.launch(nc, opts...)
	e.t.Cleanup(stop)
	return c
}

// launch runs a coordinator on nc; stop ends it and waits until it returned.
func (e *env) launch(nc *nats.Conn, opts ...Option) (c *Coordinator, stop func()) {
	e.t.Helper()
	c, err := New(nc, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	return c, func() { cancel(); <-done }
}

// testWorker executes jobs with a function, recording every execution: it stands in for the
// worker package so the coordinator's behaviour can be observed and steered job by job.
type testWorker struct {
	mu   sync.Mutex
	runs map[protocol.JobID]int
	jobs []*protocol.Job
}

func (e *env) startTestWorker(exec func(*protocol.Job) protocol.Result) *testWorker {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	cons, err := e.js.CreateOrUpdateConsumer(ctx, protocol.JobsStreamName, jetstream.ConsumerConfig{
		Durable: protocol.JobsConsumer(protocol.DefaultPool), AckPolicy: jetstream.AckExplicitPolicy,
		FilterSubject: "fleetbook.jobs.default.>", AckWait: 5 * time.Second,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	w := &testWorker{runs: map[protocol.JobID]int{}}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var job protocol.Job
		if err := json.Unmarshal(m.Data(), &job); err != nil {
			e.t.Errorf("bad job: %v", err)
			return
		}
		w.mu.Lock()
		w.runs[job.ID]++
		w.jobs = append(w.jobs, &job)
		w.mu.Unlock()
		res := exec(&job)
		res.Version, res.ID, res.Worker = protocol.JobVersion, job.ID, "test"
		body, _ := protocol.EncodeResult(&res)
		if _, err := e.js.Publish(ctx, protocol.ResultSubject(job.ID), body, jetstream.WithMsgID(job.ID.String())); err != nil && !errors.Is(err, context.Canceled) {
			e.t.Errorf("publish result: %v", err)
		}
		_ = m.Ack()
	}, jetstream.PullMaxMessages(1))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cc.Stop)
	return w
}

// executions returns how many times each job ran.
func (w *testWorker) executions() map[protocol.JobID]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[protocol.JobID]int, len(w.runs))
	for k, v := range w.runs {
		out[k] = v
	}
	return out
}

// ranEachOnce checks that want jobs ran, each exactly once.
func (w *testWorker) ranEachOnce(t *testing.T, want int) {
	t.Helper()
	runs := w.executions()
	for job, n := range runs {
		if n != 1 {
			t.Errorf("job %s ran %d times", job, n)
		}
	}
	if len(runs) != want {
		t.Errorf("%d jobs ran, want %d", len(runs), want)
	}
}

// succeed is a job function that succeeds, echoing the command.
func succeed(job *protocol.Job) protocol.Result {
	return protocol.Result{Success: true, Msg: "Command completed successfully", Data: job.Shell.Command}
}

// waitFinal waits for run id to end and returns its report.
func (e *env) waitFinal(id string, d time.Duration) *protocol.Report {
	e.t.Helper()
	var r *protocol.Report
	natstest.Eventually(e.t, d, func() error {
		var err error
		if r, err = e.client.Get(context.Background(), id); err != nil {
			return err
		}
		if !r.Status.Final() {
			return errors.New("run status " + string(r.Status))
		}
		return nil
	})
	return r
}

// submit submits doc with inputs under a fresh key and returns the run id.
func (e *env) submit(doc string, inputs map[string]any) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, Inputs: inputs, IdempotencyKey: e.t.Name() + time.Now().String()})
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	return resp.RunID
}
