package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	// apiSlots bounds the API requests handled at once.
	apiSlots chan struct{}
	// router hands results to the drivers of their runs.
	router *resultRouter
}

// New returns a coordinator using nc. Nothing happens until Run.
func New(nc *nats.Conn, opts ...Option) (*Coordinator, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("coordinator options: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		o.log.Warn("publishing event", "subject", m.Subject, "error", err)
	}))
	if err != nil {
		return nil, err
	}
	return &Coordinator{nc: nc, js: js, opts: o, apiSlots: make(chan struct{}, apiConcurrency),
		router: newResultRouter()}, nil
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
	svc, err := c.serve()
	if err != nil {
		return err
	}
	defer svc.Stop()

	cons, err := c.js.CreateOrUpdateConsumer(ctx, protocol.RunsStreamName, jetstream.ConsumerConfig{
		Durable:       protocol.RunsConsumerName,
		Description:   "fleetbook coordinators; holding a run message is driving the run",
		FilterSubject: protocol.RunsSubjectWildcard,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.opts.lease,
		MaxDeliver:    -1,
		MaxAckPending: -1,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", protocol.RunsConsumerName, err)
	}
	c.opts.log.Info("coordinator started", "name", c.opts.name, "lease", c.opts.lease)

	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, c.opts.maxRuns)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		msg, err := c.next(ctx, cons)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			c.opts.log.Warn("fetching run messages", "error", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if msg == nil {
			<-slots
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			c.drive(ctx, msg)
		})
	}
}

// next waits a short while for one run message; nil when none came.
func (c *Coordinator) next(ctx context.Context, cons jetstream.Consumer) (jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		return nil, err
	}
	for msg := range batch.Messages() {
		return msg, nil
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) &&
		!errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return nil, nil
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
	if c.secrets, err = kvstore.OpenSecrets(ctx, c.js); err != nil {
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
	return nil
}

// runIDOf extracts the run id from a run message subject.
func runIDOf(subject string) string {
	return strings.TrimPrefix(subject, strings.TrimSuffix(protocol.RunsSubjectWildcard, ">"))
}
