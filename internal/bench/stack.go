package bench

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker"
)

// NoopPlaybook is the one-step playbook the step benchmarks run: a noop task, which goes through
// the whole engine (run record, job, worker, result) and does nothing on the worker.
const NoopPlaybook = `name: bench_noop
version: "1.0.0"
author: fleetbook bench
description: one no-op step
tasks:
  - noop:
      msg: done
`

// MultiStepSteps is the number of no-op steps of MultiStepPlaybook.
const MultiStepSteps = 10

// MultiStepPlaybook is a run of MultiStepSteps no-op steps, one after the other: the per-run
// work (submit, claim, final status) is shared by all of them.
var MultiStepPlaybook = `name: bench_noop_steps
version: "1.0.0"
author: fleetbook bench
description: ten no-op steps
tasks:
` + strings.Repeat(`  - noop:
      msg: done
`, MultiStepSteps)

// Stack is fleetbook running on an Env the way `fleetbook run --embedded` runs it: one
// coordinator and one worker, each on its own in-process connection, and a client.
type Stack struct {
	client *coordinator.Client
	done   *completions
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartStack starts a coordinator and a worker with concurrency slots on e, with the streams
// and buckets shaped by store (the zero Config is the product default). Close stops them.
func (e *Env) StartStack(concurrency int, store kvstore.Config) (*Stack, error) {
	return e.startStack(concurrency, store, true)
}

// startStack is StartStack; without withCoordinator it starts only the worker and the client,
// for a coordinator that runs in a process of its own.
func (e *Env) startStack(concurrency int, store kvstore.Config, withCoordinator bool) (*Stack, error) {
	var coord *coordinator.Coordinator
	if withCoordinator {
		cnc, _, err := e.Connect("bench coordinator")
		if err != nil {
			return nil, err
		}
		if coord, err = coordinator.New(cnc, coordinator.WithStore(store)); err != nil {
			return nil, err
		}
	}
	wnc, _, err := e.Connect("bench worker")
	if err != nil {
		return nil, err
	}
	wrk, err := worker.New(wnc, worker.WithConcurrency(concurrency), worker.WithStore(store))
	if err != nil {
		return nil, err
	}
	nc, _, err := e.Connect("bench client")
	if err != nil {
		return nil, err
	}
	client, err := coordinator.NewClient(nc)
	if err != nil {
		return nil, err
	}
	s := &Stack{client: client, done: newCompletions()}
	if err := s.done.subscribe(nc); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if coord != nil {
		s.wg.Go(func() { _ = coord.Run(ctx) })
	}
	s.wg.Go(func() { _ = wrk.Run(ctx) })
	return s, nil
}

// Close stops the coordinator and the worker.
func (s *Stack) Close() {
	s.cancel()
	s.wg.Wait()
}

// Run submits doc and waits until the run has a final status. It fails unless the run succeeded.
func (s *Stack) Run(ctx context.Context, doc string) error {
	_, err := s.run(ctx, doc)
	return err
}

// run is Run, returning the run's id.
func (s *Stack) run(ctx context.Context, doc string) (string, error) {
	resp, err := s.client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, IdempotencyKey: uuid.NewString()})
	if err != nil {
		return "", fmt.Errorf("submit: %w", err)
	}
	ev, err := s.done.wait(ctx, resp.RunID)
	if err != nil {
		return "", fmt.Errorf("wait for run %s: %w", resp.RunID, err)
	}
	if ev.Status != protocol.StatusSuccess {
		return "", fmt.Errorf("run %s ended %s: %s", resp.RunID, ev.Status, ev.Msg)
	}
	return resp.RunID, nil
}

// completions learns that runs ended from their run_finished events. The coordinator publishes
// that event only once the final status is stored, so seeing it means the run is complete; a
// core subscription sees it as soon as it is stored, without the consumer a follow creates.
type completions struct {
	mu      sync.Mutex
	waiting map[string]chan protocol.Event
	// early holds the ends of runs nobody waits for yet: a no-op run can finish before its
	// submitter has read the submit reply.
	early map[string]protocol.Event
}

func newCompletions() *completions {
	return &completions{waiting: map[string]chan protocol.Event{}, early: map[string]protocol.Event{}}
}

var finishedMarker = []byte(`"` + string(protocol.EventRunFinished) + `"`)

func (c *completions) subscribe(nc *nats.Conn) error {
	sub, err := nc.Subscribe(protocol.EventsSubjectWildcard, func(m *nats.Msg) {
		if !bytes.Contains(m.Data, finishedMarker) {
			return
		}
		evs, err := protocol.DecodeEvents(m.Data)
		if err != nil || evs[len(evs)-1].Type != protocol.EventRunFinished {
			return // a run's last event is its run_finished, last of its message too
		}
		ev := evs[len(evs)-1]
		c.mu.Lock()
		defer c.mu.Unlock()
		if ch, ok := c.waiting[ev.RunID]; ok {
			delete(c.waiting, ev.RunID)
			ch <- ev
			return
		}
		c.early[ev.RunID] = ev
	})
	if err != nil {
		return fmt.Errorf("subscribe to events: %w", err)
	}
	// A slow benchmark must not lose events to the slow-consumer limit.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return err
	}
	return nc.Flush()
}

func (c *completions) wait(ctx context.Context, runID string) (protocol.Event, error) {
	c.mu.Lock()
	if ev, ok := c.early[runID]; ok {
		delete(c.early, runID)
		c.mu.Unlock()
		return ev, nil
	}
	ch := make(chan protocol.Event, 1)
	c.waiting[runID] = ch
	c.mu.Unlock()
	select {
	case ev := <-ch:
		return ev, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiting, runID)
		c.mu.Unlock()
		return protocol.Event{}, ctx.Err()
	}
}
