package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// runPrefetch bounds the run messages a coordinator pulls ahead of a free slot. They wait in the
// client only while every one of its maxRuns slots is busy; a message left there beyond the
// lease is redelivered, and the epoch CAS in claim fences the two copies.
const runPrefetch = 16

// runPullExpiry is how long one pull request of the iterator lives (its heartbeat is half that).
const runPullExpiry = 2 * time.Second

// runPuller is one long-lived pull of run messages (a Messages iterator), instead of a Fetch
// per run: each Fetch costs the server a subscription, a request and an unsubscription.
type runPuller struct {
	c  *Coordinator
	mu sync.Mutex
	it jetstream.MessagesContext
	// stop ends the goroutine that drains the iterator when the coordinator's context ends.
	stop context.CancelFunc
}

// pullRuns creates the coordinators' consumer and starts pulling from it. The pull is drained
// when ctx ends: buffered messages are still returned by next, then it fails.
func (c *Coordinator) pullRuns(ctx context.Context) (*runPuller, error) {
	p := &runPuller{c: c}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	p.stop = stop
	go func() {
		<-wctx.Done()
		p.mu.Lock()
		p.it.Drain()
		p.mu.Unlock()
	}()
	return p, nil
}

// start (re)creates the consumer and a fresh iterator on it.
func (p *runPuller) start(ctx context.Context) error {
	cons, err := p.c.js.CreateOrUpdateConsumer(ctx, protocol.RunsStreamName, jetstream.ConsumerConfig{
		Durable:       protocol.RunsConsumerName,
		Description:   "fleetbook coordinators; holding a run message is driving the run",
		FilterSubject: protocol.RunsSubjectWildcard,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.c.opts.lease,
		MaxDeliver:    -1,
		MaxAckPending: -1,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", protocol.RunsConsumerName, err)
	}
	// A short expiry re-arms the pull every couple of seconds, so a pull the server dropped or
	// answered late holds runs back no longer than the old one-second Fetch did, near enough.
	it, err := cons.Messages(jetstream.PullMaxMessages(runPrefetch), jetstream.PullExpiry(runPullExpiry))
	if err != nil {
		return fmt.Errorf("pull from consumer %s: %w", protocol.RunsConsumerName, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.it != nil {
		p.it.Stop()
	}
	p.it = it
	if ctx.Err() != nil {
		it.Drain()
	}
	return nil
}

// next waits for the next run message. When the iterator ended while ctx is alive (the consumer
// was deleted, say), the consumer and the iterator are created again and the error returned, so
// the caller pauses before the next call.
func (p *runPuller) next(ctx context.Context) (jetstream.Msg, error) {
	p.mu.Lock()
	it := p.it
	p.mu.Unlock()
	msg, err := it.Next()
	if err == nil {
		if ctx.Err() != nil {
			// Pulled during shutdown: hand it straight back instead of letting it wait for the lease.
			_ = msg.Nak()
			return nil, ctx.Err()
		}
		return msg, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrBadRequest) {
		if serr := p.start(ctx); serr != nil {
			return nil, errors.Join(err, serr)
		}
	}
	return nil, err
}

// handBack stops pulling and Naks the run messages still buffered, so another coordinator takes
// them now rather than after the lease.
func (p *runPuller) handBack() {
	p.stop()
	p.mu.Lock()
	it := p.it
	p.mu.Unlock()
	it.Drain()
	for {
		msg, err := it.Next()
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}
