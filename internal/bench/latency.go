package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// runTimeout bounds one run or one raw round trip: a benchmark that hangs fails instead.
const runTimeout = time.Minute

// replyHeader carries the raw baselines' reply subject (or id) with the job.
const replyHeader = "Bench-Reply"

// payload is the 128-byte body of raw baseline jobs and results.
var payload = make([]byte, 128)

// stepLatency runs no-op runs one at a time, closed loop, and returns each one's time from submit
// to the run's completion.
func stepLatency(ctx context.Context, s *Stack, lim limit) ([]time.Duration, error) {
	return stepLatencyInflight(ctx, s, 1, lim)
}

// stepLatencyInflight is stepLatency with inflight closed loops at once: each starts its next run
// as soon as its last one completed, until lim counts the runs of all of them.
func stepLatencyInflight(ctx context.Context, s *Stack, inflight int, lim limit) ([]time.Duration, error) {
	return closedLoops(inflight, lim, func() error {
		rctx, cancel := context.WithTimeout(ctx, runTimeout)
		defer cancel()
		return s.Run(rctx, NoopPlaybook)
	})
}

// closedLoops runs op in inflight loops at once until lim counts the operations started, and
// returns each one's time; it stops at the first error.
func closedLoops(inflight int, lim limit, op func() error) ([]time.Duration, error) {
	var (
		mu       sync.Mutex
		samples  []time.Duration
		started  int
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range inflight {
		wg.Go(func() {
			for {
				mu.Lock()
				stop := firstErr != nil || lim.over(started, start)
				started++
				mu.Unlock()
				if stop {
					return
				}
				t0 := time.Now()
				err := op()
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					firstErr = cmpErr(firstErr, err)
				} else {
					samples = append(samples, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return samples, firstErr
}

// rawLatency is the raw JetStream step, one at a time: publish a job to a work-queue stream, a
// worker consumes and acks it and replies on core NATS, the publisher gets the reply. It returns
// each round trip's time, after warmup round trips that are not counted.
func rawLatency(ctx context.Context, e *Env, warmup int, lim limit) (_ []time.Duration, err error) {
	return rawLatencyInflight(ctx, e, 1, warmup, lim)
}

// rawLatencyInflight is rawLatency with inflight publishers at once, each with its own reply
// inbox, in closed loops.
func rawLatencyInflight(ctx context.Context, e *Env, inflight, warmup int, lim limit) (_ []time.Duration, err error) {
	const stream, subject = "BENCH_RAW_LATENCY", "bench.latency.jobs"
	nc, js, err := e.Connect("bench raw client")
	if err != nil {
		return nil, err
	}
	wnc, wjs, err := e.Connect("bench raw worker")
	if err != nil {
		return nil, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subject}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
	}); err != nil {
		return nil, fmt.Errorf("raw latency stream: %w", err)
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), stream) }()
	cons, err := wjs.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "worker", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return nil, fmt.Errorf("raw latency consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		_ = wnc.Publish(m.Headers().Get(replyHeader), nil)
	})
	if err != nil {
		return nil, fmt.Errorf("raw latency consume: %w", err)
	}
	defer cc.Stop()

	inboxes := make(chan *nats.Subscription, inflight)
	for range inflight {
		sub, err := nc.SubscribeSync(nats.NewInbox())
		if err != nil {
			return nil, err
		}
		defer func() { _ = sub.Unsubscribe() }()
		inboxes <- sub
	}
	counted := lim
	if counted.n > 0 {
		counted.n += warmup
	}
	samples, err := closedLoops(inflight, counted, func() error {
		sub := <-inboxes
		defer func() { inboxes <- sub }()
		rctx, cancel := context.WithTimeout(ctx, runTimeout)
		defer cancel()
		msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{replyHeader: []string{sub.Subject}}}
		_, err := js.PublishMsg(rctx, msg)
		if err == nil {
			_, err = sub.NextMsgWithContext(rctx)
		}
		if err != nil {
			return fmt.Errorf("raw latency round trip: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return samples[min(warmup, len(samples)):], nil
}
