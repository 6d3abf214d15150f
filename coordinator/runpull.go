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

// runPullExpiry is how long one pull request lives on the server. It is also how long a
// stopping coordinator waits for its last batch to end; an idle coordinator sends one pull
// request per expiry.
const runPullExpiry = time.Second

// runPullHeartbeat is the idle heartbeat of a pull request: a request the server no longer holds
// is noticed after two missed heartbeats, and replaced.
const runPullHeartbeat = 250 * time.Millisecond

// runPullRetry is the pause after a pull that failed for a reason other than an empty queue.
const runPullRetry = 200 * time.Millisecond

// handBackDelay is how long a run message handed back at shutdown waits before the server
// delivers it again. Handed back with no delay, it could go straight back to this coordinator's
// own pull request, still open on the server for a moment, and be lost with its subscription
// until the lease ran out.
const handBackDelay = time.Second

// handBack gives a run message back to the stream, for another coordinator, when this one stops.
func handBack(msg jetstream.Msg) { _ = msg.NakWithDelay(handBackDelay) }

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
// back (handBack), for another coordinator, rather than left to wait out the lease.
func (p *runPuller) loop(ctx context.Context, cons jetstream.Consumer) {
	defer close(p.done)
	for ctx.Err() == nil {
		// The batch is not tied to ctx: a Fetch whose context ends drops the messages it has
		// received and not yet handed over, and they would wait out the lease. At shutdown the
		// batch runs to its end (runPullExpiry at most) and whatever it brings is handed back.
		batch, err := cons.Fetch(runPrefetch, jetstream.FetchMaxWait(runPullExpiry), jetstream.FetchHeartbeat(runPullHeartbeat))
		if err == nil {
			if !p.deliver(ctx, batch) {
				return
			}
			err = batch.Error()
		}
		switch {
		case err == nil || ctx.Err() != nil ||
			errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages):
			// The request ended the normal way: the next one goes out at once.
		case errors.Is(err, jetstream.ErrNoHeartbeat):
			// The server no longer holds the request: it restarted, or the consumer is gone (a
			// pull for a consumer that does not exist is never answered). Make sure it exists.
			p.ensureConsumer(ctx)
		default:
			// Consumer deleted or not found, no responders (a pull for a missing consumer), the
			// server restarting: after a pause, make sure the consumer exists, whatever the cause.
			// Creating it can itself fail while the server still removes the old one; the next
			// failed pull tries again.
			p.c.opts.log.Warn("pulling run messages", "error", err)
			if sleep(ctx, runPullRetry) == nil {
				p.ensureConsumer(ctx)
			}
		}
	}
}

// deliver hands the batch's messages over one by one until the batch ends. Once ctx has ended it
// hands them back instead; it returns false if the connection closed meanwhile, when nothing can
// be handed back and the batch would only end at its client-side timeout.
func (p *runPuller) deliver(ctx context.Context, batch jetstream.MessageBatch) bool {
	msgs, stopping := batch.Messages(), ctx.Done()
	var closedCheck <-chan time.Time
	for {
		select {
		case msg, ok := <-msgs:
			if !ok {
				return true
			}
			select {
			case p.msgs <- msg:
			case <-ctx.Done():
				handBack(msg)
			}
		case <-stopping:
			if p.c.nc.IsClosed() {
				return false
			}
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			stopping, closedCheck = nil, t.C
		case <-closedCheck:
			if p.c.nc.IsClosed() {
				return false
			}
		}
	}
}

// ensureConsumer creates the coordinators' consumer again if it is gone. The Consumer handle
// pulls by name, so that is all a lost consumer needs.
func (p *runPuller) ensureConsumer(ctx context.Context) {
	if _, err := p.c.runsConsumer(ctx); err != nil && ctx.Err() == nil {
		p.c.opts.log.Warn("creating the coordinators' consumer again", "error", err)
	}
}

// next waits for the next run message, until ctx ends.
func (p *runPuller) next(ctx context.Context) (jetstream.Msg, error) {
	select {
	case msg := <-p.msgs:
		if ctx.Err() != nil {
			// Pulled during shutdown: hand it back now instead of letting it wait for the lease.
			handBack(msg)
			return nil, ctx.Err()
		}
		return msg, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close stops pulling and waits until the run messages still held are handed back.
func (p *runPuller) close() {
	p.stop()
	<-p.done
}
