package coordinator

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// Coordinator accepts runs and drives them. Create it with New and start it with Run.
type Coordinator struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts options

	runs        *kvstore.Runs
	submissions *kvstore.Submissions
	secrets     *kvstore.Secrets
	agents      *kvstore.Agents
	jobs        jetstream.Stream
	results     jetstream.Stream
	attempts    *kvstore.Attempts
	retention   *kvstore.Retention
	schedules   *kvstore.Schedules
	// router hands results to the drivers of their runs, and cancels their cancellations.
	router  resultRouter
	cancels cancelRouter
	// list is the run index listings are served from.
	list listIndex
	// batchCounts are the counts of the batch results runs.nodes read.
	batchCounts batchCounts
	// handoffs carry the runs submitted here to their claims here.
	handoffs handoffs
	// parsed are the playbooks parsed here, by document.
	parsed parseCache
	// scheduleEvaluations counts the evaluations of every schedule (runSchedules' rounds), for
	// the tests that check what a round costs.
	scheduleEvaluations atomic.Int64
	// serving is the id of one of this coordinator's API instances while Run serves them
	// (after provisioning), nil before and after: what Ready pings.
	serving atomic.Pointer[string]
	// runPulls counts the run pull requests sent, and runPullsSilent those given up for silence
	// (no message, heartbeat or end for two heartbeats and a half), for the tests that check a
	// healthy pull never waits for that.
	runPulls, runPullsSilent atomic.Int64
	// claimsHandedOff counts the claims that took their record from a handoff, for the tests.
	claimsHandedOff atomic.Int64
}

// New returns a coordinator using nc. Nothing happens until Run. A nil nc, a nil Option or an
// option value the coordinator cannot work with is refused with an error wrapping
// ErrInvalidOption that names the option.
func New(nc *nats.Conn, opts ...Option) (*Coordinator, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalidOption)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		o.log.Warn("publishing event", "subject", m.Subject, "error", err)
	}))
	if err != nil {
		return nil, err
	}
	return &Coordinator{nc: nc, js: js, opts: o}, nil
}

// Name is the coordinator's identity.
func (c *Coordinator) Name() string { return c.opts.name }

// Run provisions the streams and buckets, serves the API and drives runs until ctx is cancelled.
// It returns once every run it drives has stopped; those runs are taken over by another
// coordinator (or by this one, restarted) after the lease.
func (c *Coordinator) Run(ctx context.Context) error {
	if err := c.open(ctx); err != nil {
		return err
	}
	rsub, err := c.router.subscribe(c.nc)
	if err != nil {
		return fmt.Errorf("subscribe to results: %w", err)
	}
	defer func() { _ = rsub.Unsubscribe() }()
	csub, err := c.cancels.subscribe(c.nc)
	if err != nil {
		return fmt.Errorf("subscribe to cancellations: %w", err)
	}
	defer func() { _ = csub.Unsubscribe() }()
	svc, err := c.serve()
	if err != nil {
		return err
	}
	defer svc.Stop()
	defer c.stopIndex()
	id := svc.instances[0].Info().ID
	c.serving.Store(&id)
	defer c.serving.Store(nil)

	pull, err := c.pullRuns(ctx)
	if err != nil {
		return err
	}
	c.opts.log.Info("coordinator started", "name", c.opts.name, "lease", c.opts.lease, "keep_runs", c.opts.keepRuns)

	var wg sync.WaitGroup
	defer wg.Wait()
	if c.opts.keepRuns > 0 {
		wg.Go(func() { c.keepRunsFor(ctx, c.opts.keepRuns) })
	}
	wg.Go(func() { c.runSchedules(ctx) })

	// Run messages still buffered when Run returns go back to the stream at once, for another
	// coordinator, rather than after the lease.
	defer pull.Close()
	slots := make(chan struct{}, c.opts.maxRuns)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		msg, err := pull.Next(ctx)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			c.opts.log.Warn("pulling run messages", "error", err)
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return nil
			}
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			c.drive(ctx, msg)
		})
	}
}

func (c *Coordinator) open(ctx context.Context) error {
	if err := kvstore.Provision(ctx, c.js, c.opts.store); err != nil {
		return err
	}
	var err error
	if c.runs, err = kvstore.OpenRuns(ctx, c.js); err != nil {
		return err
	}
	if c.submissions, err = kvstore.OpenSubmissions(ctx, c.js); err != nil {
		return err
	}
	if c.secrets, err = kvstore.OpenSecrets(ctx, c.js, c.opts.keys); err != nil {
		return err
	}
	if c.agents, err = kvstore.OpenAgents(ctx, c.js, c.opts.store); err != nil {
		return err
	}
	if c.jobs, err = c.js.Stream(ctx, protocol.JobsStreamName); err != nil {
		return fmt.Errorf("open stream %s: %w", protocol.JobsStreamName, err)
	}
	if c.results, err = c.js.Stream(ctx, protocol.ResultsStreamName); err != nil {
		return fmt.Errorf("open stream %s: %w", protocol.ResultsStreamName, err)
	}
	if c.attempts, err = kvstore.OpenAttempts(ctx, c.js); err != nil {
		return err
	}
	if c.retention, err = kvstore.OpenRetention(ctx, c.js); err != nil {
		return err
	}
	if c.schedules, err = kvstore.OpenSchedules(ctx, c.js); err != nil {
		return err
	}
	return nil
}

// runIDOf extracts the run id from a run message subject.
func runIDOf(subject string) string {
	return strings.TrimPrefix(subject, strings.TrimSuffix(protocol.RunsSubjectWildcard, ">"))
}
