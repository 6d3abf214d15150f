package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// runPrefetch bounds the run messages a coordinator pulls ahead of a free slot. They wait in the
// client only while every one of its maxRuns slots is busy; a message left there beyond the
// lease is redelivered, and the epoch CAS of the run's first write fences the two copies.
const runPrefetch = 16

// runPullExpiry is how long one pull request lives on the server.
const runPullExpiry = 2 * time.Second

// runPullHeartbeat is the idle heartbeat of a pull request: a request the server no longer holds
// is noticed after two missed heartbeats, and replaced.
const runPullHeartbeat = 250 * time.Millisecond

// runPullRetry is the pause after a pull that failed for a reason other than an empty queue.
const runPullRetry = 200 * time.Millisecond

// runPuller pulls run messages in batches of up to runPrefetch, one pull request at a time, and
// hands them over one by one.
//
// Each batch is a Fetch: its request ends for certain (batch delivered, request expired, or
// heartbeats missing), and the next is sent as soon as it ends. That costs a subscription per
// batch, not per run (a Fetch per run did). A long-lived Messages iterator was used before; under
// load it would now and then believe a pull request was open that the server no longer held, and
// runs waited for its heartbeat check (two seconds) before they were claimed.
type runPuller struct {
	c    *Coordinator
	msgs chan jetstream.Msg
	// stop ends the pulling; done closes when the pulling goroutine has returned, after it has
	// handed back what it held.
	stop context.CancelFunc
	done chan struct{}
}

// pullRuns creates the coordinators' consumer and starts pulling from it until ctx ends.
func (c *Coordinator) pullRuns(ctx context.Context) (*runPuller, error) {
	cons, err := c.runsConsumer(ctx)
	if err != nil {
		return nil, err
	}
	pctx, stop := context.WithCancel(ctx)
	p := &runPuller{c: c, msgs: make(chan jetstream.Msg), stop: stop, done: make(chan struct{})}
	go p.loop(pctx, cons)
	return p, nil
}

// runsConsumer creates (or finds) the coordinators' durable consumer on the RUNS stream.
func (c *Coordinator) runsConsumer(ctx context.Context) (jetstream.Consumer, error) {
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
		return nil, fmt.Errorf("create consumer %s: %w", protocol.RunsConsumerName, err)
	}
	return cons, nil
}

// loop fetches batch after batch until ctx ends. A run message fetched after that is handed
// back at once (Nak), for another coordinator, rather than after the lease.
func (p *runPuller) loop(ctx context.Context, cons jetstream.Consumer) {
	defer close(p.done)
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, runPullExpiry)
		batch, err := cons.Fetch(runPrefetch, jetstream.FetchContext(fctx), jetstream.FetchHeartbeat(runPullHeartbeat))
		if err == nil {
			for msg := range batch.Messages() {
				select {
				case p.msgs <- msg:
				case <-ctx.Done():
					_ = msg.Nak()
				}
			}
			err = batch.Error()
		}
		cancel()
		if err == nil || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
			errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrNoMessages) {
			continue
		}
		p.c.opts.log.Warn("pulling run messages", "error", err)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			// The Consumer handle pulls by name, so creating the durable again is enough.
			if _, cerr := p.c.runsConsumer(ctx); cerr != nil {
				p.c.opts.log.Warn("creating the coordinators' consumer again", "error", cerr)
			}
		}
		_ = sleep(ctx, runPullRetry)
	}
}

// next waits for the next run message, until ctx ends.
func (p *runPuller) next(ctx context.Context) (jetstream.Msg, error) {
	select {
	case msg := <-p.msgs:
		if ctx.Err() != nil {
			// Pulled during shutdown: hand it straight back instead of letting it wait for the lease.
			_ = msg.Nak()
			return nil, ctx.Err()
		}
		return msg, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// handBack stops pulling and waits until the run messages still held are handed back.
func (p *runPuller) handBack() {
	p.stop()
	<-p.done
}
