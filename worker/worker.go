package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/jspull"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/task"
)

// Worker pulls the jobs of one pool from the JOBS stream, runs them and publishes their results.
// Create it with New and start it with Run.
type Worker struct {
	nc      *nats.Conn
	opts    options
	log     *slog.Logger
	running atomic.Bool
	// serving is true while Run pulls jobs, its consumer created (what Ready reports).
	serving atomic.Bool
}

// New returns a Worker that will use nc once Run is called. It checks the options, and fails
// with ErrInvalidOption if one cannot work.
func New(nc *nats.Conn, opts ...Option) (*Worker, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalidOption)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Worker{
		nc:   nc,
		opts: o,
		log:  o.log.With("worker", o.name, "pool", o.pool),
	}, nil
}

// Name is the worker's identity, as recorded in its results.
func (w *Worker) Name() string { return w.opts.name }

// session is one call of Run: what its slots share.
type session struct {
	w       *Worker
	js      jetstream.JetStream
	results jetstream.Stream
	// env is what the executors get of this worker.
	env task.Env
	// cancels reaches the executions of a cancelled run.
	cancels *cancels
	// attempts are the records saying which worker runs each job.
	attempts *kvstore.Attempts
	// seen remembers the stale attempt records of other workers this worker looked at.
	seen *staleSeen
}

// Run pulls and executes jobs until ctx is cancelled. It then stops pulling, gives running jobs
// the shutdown grace to finish (their results are published and acknowledged as usual), kills
// and Naks the rest, and returns nil once every goroutine it started has exited. It returns an
// error only when it cannot start.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer w.running.Store(false)

	js, err := jetstream.New(w.nc)
	if err != nil {
		return fmt.Errorf("%w: jetstream: %w", ErrStartup, err)
	}
	switch {
	case w.opts.store != nil && w.opts.store.Await:
		if err := kvstore.AwaitProvisioned(ctx, js, *w.opts.store); err != nil {
			return fmt.Errorf("%w: %w", ErrStartup, err)
		}
	case w.opts.store != nil:
		if err := kvstore.Provision(ctx, js, *w.opts.store); err != nil {
			return fmt.Errorf("%w: %w", ErrStartup, err)
		}
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, protocol.JobsStreamName, w.consumerConfig()); err != nil {
		return fmt.Errorf("%w: consumer %s on stream %s: %w", ErrStartup, protocol.JobsConsumer(w.opts.pool), protocol.JobsStreamName, err)
	}
	results, err := js.Stream(ctx, protocol.ResultsStreamName)
	if err != nil {
		return fmt.Errorf("%w: stream %s: %w", ErrStartup, protocol.ResultsStreamName, err)
	}
	attempts, err := kvstore.OpenAttempts(ctx, js)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStartup, err)
	}

	// Executions outlive ctx by the grace, so they hang off a context of their own: hard is
	// cancelled when the grace is over, and every job's context derives from it.
	hard, kill := context.WithCancel(context.WithoutCancel(ctx))
	defer kill()
	s := &session{w: w, js: js, results: results, env: w.taskEnv(js), cancels: newCancels(),
		attempts: attempts, seen: newStaleSeen()}
	csub, err := s.subscribeCancels()
	if err != nil {
		return fmt.Errorf("%w: subscribe to run cancellations: %w", ErrStartup, err)
	}
	defer func() { _ = csub.Unsubscribe() }()
	if ping := w.announce(); ping != nil {
		defer func() { _ = ping.Unsubscribe() }()
	}
	// Last before the slots: a puller asks for a job at once.
	pullers := make([]*jspull.Puller, w.opts.concurrency)
	for i := range pullers {
		if pullers[i], err = w.pullJobs(ctx, js); err != nil {
			for _, p := range pullers[:i] {
				p.Close()
			}
			return fmt.Errorf("%w: %w", ErrStartup, err)
		}
	}
	w.serving.Store(true)
	defer w.serving.Store(false)

	var wg sync.WaitGroup
	for i, jobs := range pullers {
		wg.Go(func() { s.slot(ctx, hard, i, jobs) })
	}
	w.log.Info("worker started", "concurrency", w.opts.concurrency, "ack_wait", w.opts.ackWait)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		grace := time.NewTimer(w.opts.grace)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
			w.log.Warn("shutdown grace over, killing running jobs", "grace", w.opts.grace)
			kill()
			<-done
		}
	}
	w.log.Info("worker stopped")
	return nil
}

// taskEnv is what the executors get of this worker, for a Run pulling through js.
func (w *Worker) taskEnv(js jetstream.JetStream) task.Env {
	return task.Env{
		Worker:    w.opts.name,
		NC:        w.nc,
		JS:        js,
		DrainWait: w.opts.drainWait,
		SlackAPI:  w.opts.slackAPI,
		PluginDir: w.opts.pluginDir,
		PuppetDB:  w.opts.puppetDBURL(),
		Replies:   w.replies(),
	}
}

// replies is where the fan-outs tell node outcomes: the metrics, or nobody. (A nil *Metrics in
// the interface would not be a nil interface.)
func (w *Worker) replies() task.ReplyObserver {
	if w.opts.metrics == nil {
		return nil
	}
	return w.opts.metrics
}

// consumerConfig is the pool's durable consumer, shared by every worker of the pool.
func (w *Worker) consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       protocol.JobsConsumer(w.opts.pool),
		Description:   "fleetbook workers of pool " + w.opts.pool,
		FilterSubject: fmt.Sprintf(protocol.JobsPoolWildcardPattern, w.opts.pool),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.opts.ackWait,
		// Unlimited: the server would leave an exhausted job in the work queue with no answer.
		// Workers count deliveries themselves and answer "abandoned" instead.
		MaxDeliver: -1,
		// Concurrency is bounded by the workers' slots, not here: this only stops a runaway.
		MaxAckPending: 10000,
	}
}

// slot runs jobs one at a time, pulled by jobs, until ctx is cancelled; the jobs it runs are
// killed when hard is.
func (s *session) slot(ctx, hard context.Context, id int, jobs *jspull.Puller) {
	defer jobs.Close()
	log := s.w.log.With("slot", id)
	for ctx.Err() == nil {
		msg, err := jobs.Next(ctx)
		if err != nil {
			// Only ctx ends Next: the pulling deals with the server's failures itself.
			return
		}
		s.handle(hard, log, msg)
	}
}

// jobHold bounds how long a job pulled ahead of its slot waits for it: one not taken by then
// (the job the slot runs is a long one) goes back to the pool, for whichever slot or worker is
// free. It is short next to any AckWait (at least 100 ms) and to what a human would notice.
const jobHold = 20 * time.Millisecond

// pullJobs starts pulling the pool's jobs for one slot, on a subscription kept for the worker's
// life (jspull): a Fetch per job subscribed to an inbox of its own and unsubscribed again.
//
// A slot asks for its next job as soon as it takes one, so that a run of short jobs (a noop, a
// quick data write, an rpc batch answered in milliseconds) does not wait a pull round trip
// between two: the next one is there when the slot is free. That job is the only one the slot
// holds, and only for jobHold: not taken by then, it is handed back (Nak) and the slot asks
// again only once it is free, until it has taken a job it waited for. So a slot running long
// jobs holds none, and a job never waits behind another while a slot elsewhere is free; each
// long job costs one job handed back at most. A job pulled ahead is an ordinary delivery:
// nothing of it runs before its slot claims its attempt record, and one lost with its worker
// (kill -9) is redelivered after AckWait as a job delivered and never started is. (One request
// for every waiting slot was tried: it made the slots wait on each other's round trips.)
//
// The pulling ends at once when the worker stops (it made every one-shot `run --embedded` about
// 2 s long when it waited for a pull's expiry). Nothing is lost by ending it: the server hands a
// waiting pull a job only while its reply inbox still has a subscriber, what it sent before the
// inbox went is handed back, and a job that was on its way in that instant stays
// unacknowledged, so it is redelivered after AckWait as after a crash.
func (w *Worker) pullJobs(ctx context.Context, js jetstream.JetStream) (*jspull.Puller, error) {
	return jspull.Start(ctx, w.nc, jspull.Config{
		Stream: protocol.JobsStreamName, Consumer: protocol.JobsConsumer(w.opts.pool),
		Batch: func(waiting int, handedBack bool) int {
			if handedBack {
				return min(waiting, 1)
			}
			return 1
		},
		Hold:   jobHold,
		Expiry: w.opts.fetchWait, Heartbeat: min(w.opts.fetchWait/2, time.Second),
		// A broken server is not hammered.
		Retry:     time.Second,
		DrainWait: 5 * time.Second,
		// Held too long, or pulled during shutdown: straight back to the pool.
		HandBack: func(m jetstream.Msg) { _ = m.Nak() },
		Ensure: func(ctx context.Context) error {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := js.CreateOrUpdateConsumer(cctx, protocol.JobsStreamName, w.consumerConfig())
			return err
		},
		Log: w.log,
	})
}
