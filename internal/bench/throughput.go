package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rate is a throughput measurement.
type rate struct {
	ops     int
	elapsed time.Duration
}

func (r rate) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// stepsPerSecond keeps inflight no-op runs going at once, each submitter starting a new run as
// soon as its last one completed, until lim; every run is one step.
func stepsPerSecond(ctx context.Context, s *Stack, inflight int, lim limit) (rate, error) {
	return stepsPerSecondOf(ctx, s, NoopPlaybook, 1, inflight, lim)
}

// stepsPerSecondOf is stepsPerSecond for runs of doc, which has steps no-op steps: a run is
// started while fewer than lim.n steps were started, and the rate counts the steps of the runs
// that completed.
func stepsPerSecondOf(ctx context.Context, s *Stack, doc string, steps, inflight int, lim limit) (rate, error) {
	return sustain(steps, inflight, lim, func() error {
		rctx, cancel := context.WithTimeout(ctx, runTimeout)
		defer cancel()
		return s.Run(rctx, doc)
	})
}

// sustain keeps inflight calls of run going at once, each caller calling again as soon as its
// last call returned, while fewer than lim.n steps were started (a call is steps steps); the
// rate counts the steps of the calls that succeeded. The first error stops every caller.
func sustain(steps, inflight int, lim limit, run func() error) (rate, error) {
	var started, completed atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range inflight {
		wg.Go(func() {
			for {
				if lim.over((int(started.Add(1))-1)*steps, start) {
					return
				}
				if err := run(); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				completed.Add(int64(steps))
			}
		})
	}
	wg.Wait()
	return rate{ops: int(completed.Load()), elapsed: time.Since(start)}, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// rawStepsPerSecond is the raw minimal step at full speed: a publisher keeps up to window jobs
// in flight on a work-queue stream (async publish); workers (one connection each) consume them,
// put a result in a KV bucket and ack; a coordinator learns of each result from a KV watch.
func rawStepsPerSecond(ctx context.Context, e *Env, workers, window int, lim limit) (_ rate, err error) {
	const stream, subject, bucket = "BENCH_RAW_STEPS", "bench.steps.jobs", "BENCH_RAW_RESULTS"
	_, js, err := e.Connect("bench raw publisher")
	if err != nil {
		return rate{}, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subject}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
	}); err != nil {
		return rate{}, fmt.Errorf("raw steps stream: %w", err)
	}
	cleanup := context.WithoutCancel(ctx)
	defer func() { _ = js.DeleteStream(cleanup, stream) }()
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Storage: jetstream.FileStorage}); err != nil {
		return rate{}, fmt.Errorf("raw steps bucket: %w", err)
	}
	defer func() { _ = js.DeleteKeyValue(cleanup, bucket) }()
	if _, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10000,
	}); err != nil {
		return rate{}, fmt.Errorf("raw steps consumer: %w", err)
	}
	for i := range workers {
		stop, err := rawStepWorker(ctx, e, i, stream, bucket)
		if err != nil {
			return rate{}, err
		}
		defer stop()
	}

	// The coordinator: every result seen frees a slot of the window.
	_, cjs, err := e.Connect("bench raw coordinator")
	if err != nil {
		return rate{}, err
	}
	kv, err := cjs.KeyValue(ctx, bucket)
	if err != nil {
		return rate{}, err
	}
	watch, err := kv.Watch(ctx, "r.>", jetstream.UpdatesOnly())
	if err != nil {
		return rate{}, fmt.Errorf("raw steps watch: %w", err)
	}
	defer func() { _ = watch.Stop() }()
	slots := make(chan struct{}, window)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case entry, ok := <-watch.Updates():
				if !ok {
					return
				}
				if entry != nil {
					<-slots
				}
			case <-done:
				return
			}
		}
	}()

	acquire := func() error {
		select {
		case slots <- struct{}{}:
			return nil
		case <-time.After(runTimeout):
			return errors.New("raw steps: no result within the run timeout")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	start := time.Now()
	n := 0
	for ; !lim.over(n, start); n++ {
		if err := acquire(); err != nil {
			return rate{}, err
		}
		msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{replyHeader: []string{strconv.Itoa(n)}}}
		if _, err := js.PublishMsgAsync(msg); err != nil {
			return rate{}, fmt.Errorf("raw steps publish: %w", err)
		}
	}
	// Filling every slot means every job published has its result.
	for range window {
		if err := acquire(); err != nil {
			return rate{}, err
		}
	}
	return rate{ops: n, elapsed: time.Since(start)}, nil
}

// rawStepWorker consumes raw step jobs on a connection of its own: it puts the result, then acks.
func rawStepWorker(ctx context.Context, e *Env, i int, stream, bucket string) (stop func(), err error) {
	_, wjs, err := e.Connect(fmt.Sprintf("bench raw worker %d", i))
	if err != nil {
		return nil, err
	}
	kv, err := wjs.KeyValue(ctx, bucket)
	if err != nil {
		return nil, err
	}
	cons, err := wjs.Consumer(ctx, stream, "workers")
	if err != nil {
		return nil, err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		pctx, cancel := context.WithTimeout(context.Background(), runTimeout)
		defer cancel()
		if _, err := kv.Put(pctx, "r."+m.Headers().Get(replyHeader), m.Data()); err != nil {
			_ = m.Nak()
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return nil, fmt.Errorf("raw steps consume: %w", err)
	}
	return cc.Stop, nil
}
