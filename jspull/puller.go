// Package jspull pulls the messages of a JetStream pull consumer with pull requests of its own,
// one at a time, over one long-lived subscription, and hands them over one by one to the callers
// of Next. The coordinators pull run messages with it and the workers jobs.
//
// Why not the jetstream package's Fetch or Messages: a Fetch subscribes to an inbox of its own
// and unsubscribes at its end (two protocol exchanges and two updates of the server's
// subscription index per request, one request per job for a worker that takes one job per free
// slot), and cannot stop early without dropping what it received, so a shutdown waited for its
// last request to expire; a long-lived Messages iterator once believed a request open that the
// server no longer held, and runs waited two seconds. Here the next request goes out as soon as
// the previous one has ended (its batch delivered, expired, or its heartbeats missing) and its
// messages have been handed over, so no count of open requests can drift; a stopping Puller
// drains its subscription, so the server stops delivering to it at once and what it had already
// sent still arrives and is handed back.
package jspull

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says what a Puller pulls and how.
type Config struct {
	// Stream and Consumer name the durable pull consumer.
	Stream, Consumer string
	// Batch is how many messages the next pull request asks for, given how many callers wait in
	// Next at that moment and whether the last message pulled ahead of them was handed back for
	// want of a caller (see Hold). 0 sends none until another caller comes.
	Batch func(waiting int, handedBack bool) int
	// Hold, when set, bounds how long a message received waits for a caller: one not taken
	// within Hold is handed back, so that a message pulled ahead of a busy caller goes to
	// whoever is free. 0 keeps every message until a caller takes it.
	Hold time.Duration
	// Expiry is how long one pull request lives on the server: an idle Puller sends one request
	// per expiry. Heartbeat is its idle heartbeat (at most half the expiry): a request the
	// server no longer holds is noticed after two and a half missed heartbeats, and replaced.
	Expiry, Heartbeat time.Duration
	// Retry is the pause after a pull request that could not be sent.
	Retry time.Duration
	// DrainWait bounds how long a closing Puller waits for the messages the server sent before
	// it stopped delivering: normally one round trip.
	DrainWait time.Duration
	// HandBack gives back a message that was received and never handed over: not taken within
	// Hold, or still held at shutdown.
	HandBack func(jetstream.Msg)
	// Ensure creates the consumer again if it is gone; pull requests name it, so that is all a
	// lost consumer needs.
	Ensure func(context.Context) error
	// Log receives what goes wrong.
	Log *slog.Logger
	// Requests and Silent, when set, count the pull requests sent and those given up for
	// silence.
	Requests, Silent *atomic.Int64
}

// Puller pulls one consumer's messages until it is closed. Create it with Start.
type Puller struct {
	cfg Config
	nc  *nats.Conn
	// api is the pull request's API subject, inbox its reply subject.
	api, inbox string
	sub        *nats.Subscription
	msgs       chan jetstream.Msg
	// wake is signalled (without blocking) whenever the subscription received something or a
	// caller came to Next.
	wake chan struct{}
	// waiting counts the callers in Next not handed a message yet.
	waiting atomic.Int64
	// handedBack says the last message was handed back for want of a caller; holdTimer times
	// Hold. The loop alone uses both.
	handedBack bool
	holdTimer  *time.Timer

	mu sync.Mutex
	// queue holds the messages received and not yet handed over.
	queue []*nats.Msg
	// asked and received count the current request's messages; ended says it will deliver no
	// more, and lost that it ended because its consumer is gone.
	asked, received int
	ended, lost     bool
	// heard is when the current request last gave a sign of life.
	heard time.Time

	// stop ends the pulling; done closes when the pulling goroutine has returned, after it has
	// handed back what it held.
	stop context.CancelFunc
	done chan struct{}
}

// Start subscribes to an inbox of its own on nc and pulls until ctx ends or Close is called.
// The consumer must exist (cfg.Ensure creates it again if it goes).
func Start(ctx context.Context, nc *nats.Conn, cfg Config) (*Puller, error) {
	if cfg.Batch == nil || cfg.HandBack == nil || cfg.Ensure == nil || cfg.Log == nil ||
		cfg.Expiry <= 0 || cfg.Heartbeat <= 0 || 2*cfg.Heartbeat > cfg.Expiry {
		return nil, fmt.Errorf("jspull: incomplete config for consumer %s of %s (a heartbeat at most half the expiry)", cfg.Consumer, cfg.Stream)
	}
	p := &Puller{
		cfg:   cfg,
		nc:    nc,
		api:   "$JS.API.CONSUMER.MSG.NEXT." + cfg.Stream + "." + cfg.Consumer,
		inbox: nc.NewInbox(),
		msgs:  make(chan jetstream.Msg),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	sub, err := nc.Subscribe(p.inbox, p.arrived)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the messages of %s: %w", cfg.Consumer, err)
	}
	// Messages are queued by arrived, never in the subscription: no pending limit applies.
	_ = sub.SetPendingLimits(-1, -1)
	p.sub = sub
	pctx, stop := context.WithCancel(ctx)
	p.stop = stop
	go p.loop(pctx)
	return p, nil
}

// pullRequest is the JetStream protocol's request for the next messages of a pull consumer.
type pullRequest struct {
	Batch     int           `json:"batch"`
	Expires   time.Duration `json:"expires"`
	Heartbeat time.Duration `json:"idle_heartbeat"`
}

// arrived takes what the subscription received: a message is queued; a status message (there is
// no payload, and a Status header) is a heartbeat (100) or the end of the request (404, 408, 409:
// no messages, expired, consumer deleted or the server going away; 503: no consumer to ask).
func (p *Puller) arrived(m *nats.Msg) {
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
		p.ended = p.ended || p.received >= p.asked
	}
	p.mu.Unlock()
	p.signal()
}

func (p *Puller) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// request sends the next pull request, for batch messages.
func (p *Puller) request(batch int) error {
	body, err := json.Marshal(pullRequest{Batch: batch, Expires: p.cfg.Expiry, Heartbeat: p.cfg.Heartbeat})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.asked, p.received, p.ended, p.lost, p.heard = batch, 0, false, false, time.Now()
	p.mu.Unlock()
	if p.cfg.Requests != nil {
		p.cfg.Requests.Add(1)
	}
	return p.nc.PublishRequest(p.api, p.inbox, body)
}

// take pops the next queued message; without one it says whether the current request has ended,
// whether its consumer is gone, and when it must give a sign of life by at the latest.
func (p *Puller) take() (m *nats.Msg, ended, lost bool, due time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) > 0 {
		m, p.queue = p.queue[0], p.queue[1:]
		return m, false, false, time.Time{}
	}
	return nil, p.ended, p.lost, p.heard.Add(2*p.cfg.Heartbeat + p.cfg.Heartbeat/2)
}

// batch waits until the next request may ask for at least one message, and says how many.
func (p *Puller) batch(ctx context.Context) (int, bool) {
	for {
		if n := p.cfg.Batch(int(p.waiting.Load()), p.handedBack); n > 0 {
			return n, true
		}
		select {
		case <-p.wake:
		case <-ctx.Done():
			return 0, false
		}
	}
}

// loop sends request after request until ctx ends, handing over what each brings, and then
// hands back everything it still holds (shutdown).
func (p *Puller) loop(ctx context.Context) {
	defer close(p.done)
	defer p.shutdown()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n, ok := p.batch(ctx)
		if !ok {
			return
		}
		if err := p.request(n); err != nil {
			p.cfg.Log.Warn("sending a pull request", "consumer", p.cfg.Consumer, "error", err)
			if sleepCtx(ctx, p.cfg.Retry) == nil {
				p.ensure(ctx)
			}
			continue
		}
		for {
			m, ended, lost, due := p.take()
			if m != nil {
				if !p.handOver(ctx, msg{nc: p.nc, m: m}) {
					return
				}
				continue
			}
			if ended {
				if lost {
					p.ensure(ctx)
				}
				break
			}
			wait := time.Until(due)
			if wait <= 0 {
				// The server no longer holds the request: it restarted, or the consumer is gone
				// (a pull for a consumer that does not exist is never answered). Make sure the
				// consumer exists, and ask again.
				if p.cfg.Silent != nil {
					p.cfg.Silent.Add(1)
				}
				p.ensure(ctx)
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

// handOver gives m to a caller of Next, or hands it back when none takes it within the hold; it
// is false when ctx ended first (m is handed back then too).
func (p *Puller) handOver(ctx context.Context, m jetstream.Msg) bool {
	var hold <-chan time.Time
	if p.cfg.Hold > 0 {
		// One timer for the Puller's life (the loop alone uses it): this is once per message.
		if p.holdTimer == nil {
			p.holdTimer = time.NewTimer(p.cfg.Hold)
		} else {
			p.holdTimer.Reset(p.cfg.Hold)
		}
		defer p.holdTimer.Stop()
		hold = p.holdTimer.C
	}
	select {
	case p.msgs <- m:
		// Counted here, not when Next returns: the next batch is reckoned right after.
		p.waiting.Add(-1)
		p.handedBack = false
		return true
	case <-hold:
		p.cfg.HandBack(m)
		p.handedBack = true
		return true
	case <-ctx.Done():
		p.cfg.HandBack(m)
		return false
	}
}

// shutdown drains the subscription and hands back every message received and not handed over.
// Draining tells the server to stop delivering to the inbox and waits until what it sent before
// has arrived; a message the server sent in that instant and that did not arrive stays
// unacknowledged and is redelivered after its ack wait, as after a crash.
func (p *Puller) shutdown() {
	closed := p.sub.StatusChanged(nats.SubscriptionClosed)
	if p.sub.Drain() == nil {
		deadline := time.NewTimer(p.cfg.DrainWait)
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
				if p.nc.IsClosed() {
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
		p.cfg.HandBack(msg{nc: p.nc, m: m})
	}
}

// ensure makes sure the consumer exists.
func (p *Puller) ensure(ctx context.Context) {
	if err := p.cfg.Ensure(ctx); err != nil && ctx.Err() == nil {
		p.cfg.Log.Warn("creating the consumer again", "consumer", p.cfg.Consumer, "error", err)
	}
}

// Next waits for the next message, until ctx ends. A message that comes as ctx ends is handed
// back at once rather than left to wait for its ack wait.
func (p *Puller) Next(ctx context.Context) (jetstream.Msg, error) {
	// The loop counts the caller out when it hands it a message.
	p.waiting.Add(1)
	p.signal()
	select {
	case m := <-p.msgs:
		if ctx.Err() != nil {
			p.cfg.HandBack(m)
			return nil, ctx.Err()
		}
		return m, nil
	case <-ctx.Done():
		p.waiting.Add(-1)
		return nil, ctx.Err()
	}
}

// Close stops pulling and waits until the messages still held are handed back.
func (p *Puller) Close() {
	p.stop()
	<-p.done
}

// sleepCtx pauses for d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
