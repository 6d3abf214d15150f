package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// runPrefetch bounds the run messages a coordinator pulls ahead of a free slot. They wait in the
// client only while every one of its maxRuns slots is busy; a message left there beyond the
// lease is redelivered, and the epoch CAS of the run's first write fences the two copies.
const runPrefetch = 16

// runPullExpiry is how long one pull request lives on the server; an idle coordinator sends one
// pull request per expiry. Nothing waits for it to run out (TestRunPullNeverWaitsForExpiry makes
// it a minute to check that, so it is a variable).
var runPullExpiry = time.Second

// runPullHeartbeat is the idle heartbeat of a pull request: a request the server no longer holds
// is noticed after two missed heartbeats, and replaced.
const runPullHeartbeat = 250 * time.Millisecond

// runPullRetry is the pause after a pull request that could not be sent.
const runPullRetry = 200 * time.Millisecond

// runPullDrainWait bounds how long a stopping coordinator waits for the run messages the server
// sent before it stopped delivering to this coordinator. It is normally one round trip.
const runPullDrainWait = 5 * time.Second

// handBackDelay is how long a run message handed back at shutdown waits before the server
// delivers it again: long enough for the stopping coordinator to be gone, so that the message
// goes to another one (or to this one, restarted).
const handBackDelay = time.Second

// handBack gives a run message back to the stream, for another coordinator, when this one stops.
func handBack(msg jetstream.Msg) { _ = msg.NakWithDelay(handBackDelay) }

// runPuller pulls run messages in batches of up to runPrefetch and hands them over one by one.
//
// It sends its own pull requests, one at a time, over one long-lived subscription: the next
// request goes out as soon as the previous one has ended (batch delivered, expired, or its
// heartbeats missing) and its messages have been handed over. So no client-side accounting of
// open requests can drift (a long-lived Messages iterator once believed a request open that the
// server no longer held, and runs waited two seconds), a batch costs one request and no
// subscription of its own, and a stopping coordinator can drain the subscription: the server
// stops delivering to it at once, and what it had already sent still arrives and is handed back.
// A Fetch could not stop early without dropping what it had received, so every shutdown waited
// for its last request to expire.
type runPuller struct {
	c *Coordinator
	// api is the pull request's API subject, inbox its reply subject.
	api, inbox string
	sub        *nats.Subscription
	msgs       chan jetstream.Msg
	// wake is signalled (without blocking) whenever the subscription received something.
	wake chan struct{}

	mu sync.Mutex
	// queue holds the run messages received and not yet handed over.
	queue []*nats.Msg
	// received counts the current request's messages; ended says it will deliver no more, and
	// lost that it ended because its consumer is gone.
	received    int
	ended, lost bool
	// heard is when the current request last gave a sign of life.
	heard time.Time

	// stop ends the pulling; done closes when the pulling goroutine has returned, after it has
	// handed back what it held.
	stop context.CancelFunc
	done chan struct{}
}

// pullRuns creates the coordinators' consumer and starts pulling from it until ctx ends.
func (c *Coordinator) pullRuns(ctx context.Context) (*runPuller, error) {
	if _, err := c.runsConsumer(ctx); err != nil {
		return nil, err
	}
	p := &runPuller{
		c:     c,
		api:   "$JS.API.CONSUMER.MSG.NEXT." + protocol.RunsStreamName + "." + protocol.RunsConsumerName,
		inbox: c.nc.NewInbox(),
		msgs:  make(chan jetstream.Msg),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	sub, err := c.nc.Subscribe(p.inbox, p.arrived)
	if err != nil {
		return nil, fmt.Errorf("subscribe to run messages: %w", err)
	}
	// Run messages are queued by arrived, never in the subscription: no pending limit applies.
	_ = sub.SetPendingLimits(-1, -1)
	p.sub = sub
	pctx, stop := context.WithCancel(ctx)
	p.stop = stop
	go p.loop(pctx)
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

// pullRequest is the JetStream protocol's request for the next messages of a pull consumer.
type pullRequest struct {
	Batch     int           `json:"batch"`
	Expires   time.Duration `json:"expires"`
	Heartbeat time.Duration `json:"idle_heartbeat"`
}

// arrived takes what the subscription received: a run message is queued; a status message
// (there is no payload, and a Status header) is a heartbeat (100) or the end of the request
// (404, 408, 409: no messages, expired, consumer deleted or the server going away; 503: no
// consumer to ask).
func (p *runPuller) arrived(m *nats.Msg) {
	p.mu.Lock()
	p.heard = time.Now()
	if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
		if status != "100" {
			p.ended = true
			// 503 is NATS's "no responders": no consumer listens on the request's subject. It
			// comes when the consumer was deleted just as it was created again (the create found
			// it still there): asking again without creating it would loop for ever.
			desc := strings.ToLower(m.Header.Get("Description"))
			p.lost = p.lost || status == "503" || strings.Contains(desc, "consumer deleted") || strings.Contains(desc, "consumer not found")
		}
	} else {
		p.queue = append(p.queue, m)
		p.received++
		p.ended = p.ended || p.received >= runPrefetch
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// request sends the next pull request.
func (p *runPuller) request() error {
	body, err := json.Marshal(pullRequest{Batch: runPrefetch, Expires: runPullExpiry, Heartbeat: runPullHeartbeat})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.received, p.ended, p.lost, p.heard = 0, false, false, time.Now()
	p.mu.Unlock()
	p.c.runPulls.Add(1)
	return p.c.nc.PublishRequest(p.api, p.inbox, body)
}

// take pops the next queued run message; without one it says whether the current request has
// ended, whether its consumer is gone, and when it must give a sign of life by at the latest.
func (p *runPuller) take() (msg *nats.Msg, ended, lost bool, due time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) > 0 {
		msg, p.queue = p.queue[0], p.queue[1:]
		return msg, false, false, time.Time{}
	}
	return nil, p.ended, p.lost, p.heard.Add(2*runPullHeartbeat + runPullHeartbeat/2)
}

// loop sends request after request until ctx ends, handing over what each brings, and then
// hands back everything it still holds (shutdown).
func (p *runPuller) loop(ctx context.Context) {
	defer close(p.done)
	defer p.shutdown()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		if err := p.request(); err != nil {
			p.c.opts.log.Warn("pulling run messages", "error", err)
			if sleep(ctx, runPullRetry) == nil {
				p.ensureConsumer(ctx)
			}
			continue
		}
		for {
			msg, ended, lost, due := p.take()
			if msg != nil {
				select {
				case p.msgs <- runMsg{nc: p.c.nc, m: msg}:
				case <-ctx.Done():
					handBack(runMsg{nc: p.c.nc, m: msg})
					return
				}
				continue
			}
			if ended {
				if lost {
					p.ensureConsumer(ctx)
				}
				break
			}
			wait := time.Until(due)
			if wait <= 0 {
				// The server no longer holds the request: it restarted, or the consumer is gone
				// (a pull for a consumer that does not exist is never answered). Make sure the
				// consumer exists, and ask again.
				p.c.runPullsSilent.Add(1)
				p.ensureConsumer(ctx)
				break
			}
			timer.Reset(wait)
			select {
			case <-p.wake:
			case <-timer.C:
			case <-ctx.Done():
				return
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

// shutdown drains the subscription and hands back every run message received and not handed
// over. Draining tells the server to stop delivering to the inbox and waits until what it sent
// before has arrived; a message the server sent in that instant and that did not arrive stays
// unacknowledged and is redelivered after the lease, as after a crash.
func (p *runPuller) shutdown() {
	closed := p.sub.StatusChanged(nats.SubscriptionClosed)
	if p.sub.Drain() == nil {
		deadline := time.NewTimer(runPullDrainWait)
		defer deadline.Stop()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			select {
			case <-closed:
				break wait
			case <-deadline.C:
				break wait
			case <-tick.C:
				if p.c.nc.IsClosed() {
					break wait
				}
			}
		}
	} else {
		_ = p.sub.Unsubscribe()
	}
	p.mu.Lock()
	queue := p.queue
	p.queue = nil
	p.mu.Unlock()
	for _, m := range queue {
		handBack(runMsg{nc: p.c.nc, m: m})
	}
}

// ensureConsumer creates the coordinators' consumer again if it is gone. Pull requests name the
// consumer, so that is all a lost consumer needs.
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
