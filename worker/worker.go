package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	cons    jetstream.Consumer
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
	cons, err := js.CreateOrUpdateConsumer(ctx, protocol.JobsStreamName, w.consumerConfig())
	if err != nil {
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
	s := &session{w: w, js: js, cons: cons, results: results, env: w.taskEnv(js), cancels: newCancels(),
		attempts: attempts, seen: newStaleSeen()}
	csub, err := s.subscribeCancels()
	if err != nil {
		return fmt.Errorf("%w: subscribe to run cancellations: %w", ErrStartup, err)
	}
	defer func() { _ = csub.Unsubscribe() }()
	if ping := w.announce(); ping != nil {
		defer func() { _ = ping.Unsubscribe() }()
	}
	w.serving.Store(true)
	defer w.serving.Store(false)

	var wg sync.WaitGroup
	for i := range w.opts.concurrency {
		wg.Go(func() { s.slot(ctx, hard, i) })
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

// slot runs jobs one at a time until ctx is cancelled; the jobs it runs are killed when hard is.
// It pulls a single message per request so that nothing waits in a client-side buffer while this
// slot is busy: a job not yet pulled stays available to every idle worker of the pool.
func (s *session) slot(ctx, hard context.Context, id int) {
	log := s.w.log.With("slot", id)
	for ctx.Err() == nil {
		msg, err := s.next(ctx)
		if err != nil {
			s.fetchFailed(ctx, log, err)
			continue
		}
		if ctx.Err() != nil {
			// Pulled during shutdown: hand it straight back instead of letting it wait for AckWait.
			_ = msg.Nak()
			return
		}
		s.handle(hard, log, msg)
	}
}

// next pulls one job, waiting at most the fetch wait for one. The pull ends at once when ctx
// does, so a shutdown does not sit out the pull's expiry (it made every one-shot `run
// --embedded` about 2 s long). Nothing is lost by ending it: the server hands a waiting pull a
// job only while its reply inbox still has a subscriber, and a job that was already on its way
// when the inbox went stays unacknowledged, so it is redelivered after AckWait as after a crash.
func (s *session) next(ctx context.Context) (jetstream.Msg, error) {
	pctx, cancel := context.WithTimeout(ctx, s.w.opts.fetchWait)
	defer cancel()
	return s.cons.Next(jetstream.FetchContext(pctx))
}

// fetchFailed deals with a failed pull: an empty queue is normal, and so is a pull ended by its
// own deadline or by shutdown; anything else (a reconnect, a deleted consumer) is logged and
// retried after a pause so a broken server is not hammered.
func (s *session) fetchFailed(ctx context.Context, log *slog.Logger, err error) {
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) ||
		errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return
	}
	log.Warn("fetching a job failed", "error", err)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		// The Consumer handle pulls by name, so recreating the durable is enough.
		if _, err := s.js.CreateOrUpdateConsumer(cctx, protocol.JobsStreamName, s.w.consumerConfig()); err != nil {
			log.Warn("recreating the consumer failed", "error", err)
		}
		cancel()
	}
	pause := time.NewTimer(time.Second)
	defer pause.Stop()
	select {
	case <-ctx.Done():
	case <-pause.C:
	}
}
