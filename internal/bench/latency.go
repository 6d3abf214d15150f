package bench

import (
	"context"
	"fmt"
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
	var samples []time.Duration
	for start := time.Now(); !lim.over(len(samples), start); {
		t0 := time.Now()
		rctx, cancel := context.WithTimeout(ctx, runTimeout)
		err := s.Run(rctx, NoopPlaybook)
		cancel()
		if err != nil {
			return nil, err
		}
		samples = append(samples, time.Since(t0))
	}
	return samples, nil
}

// rawLatency is the raw JetStream step, one at a time: publish a job to a work-queue stream, a
// worker consumes and acks it and replies on core NATS, the publisher gets the reply. It returns
// each round trip's time, after warmup round trips that are not counted.
func rawLatency(ctx context.Context, e *Env, warmup int, lim limit) (_ []time.Duration, err error) {
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

	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()

	var samples []time.Duration
	for start := time.Now(); !lim.over(len(samples)-warmup, start); {
		rctx, cancel := context.WithTimeout(ctx, runTimeout)
		t0 := time.Now()
		msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{replyHeader: []string{inbox}}}
		_, err := js.PublishMsg(rctx, msg)
		if err == nil {
			_, err = sub.NextMsgWithContext(rctx)
		}
		cancel()
		if err != nil {
			return nil, fmt.Errorf("raw latency round trip: %w", err)
		}
		samples = append(samples, time.Since(t0))
	}
	return samples[min(warmup, len(samples)):], nil
}
