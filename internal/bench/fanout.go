package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/worker/agent"
)

// fanoutPlaybook discovers the n simulated nodes from the registry and pings them all in one
// rpc step, cut into the coordinator's default batches.
func fanoutPlaybook(n int) string { return fanoutPlaybookFor(n, "sim") }

// fanoutPlaybookFor is fanoutPlaybook for the at least n nodes of class.
func fanoutPlaybookFor(n int, class string) string {
	return fmt.Sprintf(`name: bench_fanout
version: "1.0.0"
author: fleetbook bench
description: one rpc step to every simulated node
nodes:
  all:
    type: fleet
    classes: [%s]
    at_least: %d
tasks:
  - rpc:
      action: rpcutil.ping
      nodes: "{{{ nodes.all }}}"
`, class, n)
}

// StartFleet starts n simulated node agents (the built-in rpcutil agent) on a connection of their
// own and waits until they are registered. stop ends them.
func (e *Env) StartFleet(n int) (stop func(), err error) {
	sim := []string{"sim"}
	return e.startFleet(n, func(int) []string { return sim })
}

// startFleet is StartFleet with the classes of node i given by classes.
func (e *Env) startFleet(n int, classes func(i int) []string) (stop func(), err error) {
	nc, _, err := e.Connect("bench fleet")
	if err != nil {
		return nil, err
	}
	nodes := make([]agent.Node, n)
	for i := range nodes {
		nodes[i] = agent.Node{Identity: fmt.Sprintf("node%05d.sim", i), Classes: classes(i)}
	}
	dir, err := os.MkdirTemp("", "fleetbook-bench-nodes-")
	if err != nil {
		return nil, err
	}
	srv, err := agent.New(nc, nodes, agent.WithStateDir(dir))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	stop = func() { cancel(); <-done; _ = os.RemoveAll(dir) }
	select {
	case <-srv.Ready():
		return stop, nil
	case <-time.After(runTimeout):
		stop()
		return nil, errors.New("simulated fleet did not become ready")
	}
}

// rpcStep runs the fan-out playbook once and returns how long its rpc step took, as the
// coordinator recorded it (dispatch of every batch to the last reply applied), and the whole run.
func rpcStep(ctx context.Context, s *Stack, n int) (step, run time.Duration, err error) {
	rctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	t0 := time.Now()
	id, err := s.run(rctx, fanoutPlaybook(n))
	if err != nil {
		return 0, 0, err
	}
	run = time.Since(t0)
	rep, err := s.client.Get(rctx, id)
	if err != nil {
		return 0, 0, err
	}
	if len(rep.Tasks) != 1 {
		return 0, 0, fmt.Errorf("fan-out run %s has %d tasks, want 1", id, len(rep.Tasks))
	}
	t := rep.Tasks[0]
	return t.EndedAt.Sub(t.StartedAt), run, nil
}

// rawFanout is the baseline of a fan-out: n core NATS request/replies, all sent at once, one
// responder answering every subject, and one reply subscription counting the answers.
func rawFanout(ctx context.Context, e *Env, n int) (time.Duration, error) {
	rnc, _, err := e.Connect("bench raw responders")
	if err != nil {
		return 0, err
	}
	pong := []byte(`{"pong":1}`)
	rsub, err := rnc.Subscribe("bench.fanout.>", func(m *nats.Msg) { _ = m.Respond(pong) })
	if err != nil {
		return 0, err
	}
	defer func() { _ = rsub.Unsubscribe() }()
	_ = rsub.SetPendingLimits(-1, -1)
	if err := rnc.Flush(); err != nil {
		return 0, err
	}
	nc, _, err := e.Connect("bench raw fan-out")
	if err != nil {
		return 0, err
	}
	left := n
	done := make(chan struct{})
	inbox := nc.NewInbox()
	sub, err := nc.Subscribe(inbox+".*", func(*nats.Msg) {
		if left--; left == 0 {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, -1)
	start := time.Now()
	for i := range n {
		id := strconv.Itoa(i)
		if err := nc.PublishRequest("bench.fanout.node"+id, inbox+"."+id, []byte(`{"ping":1}`)); err != nil {
			return 0, err
		}
	}
	if err := nc.Flush(); err != nil {
		return 0, err
	}
	select {
	case <-done:
		return time.Since(start), nil
	case <-time.After(runTimeout):
		return 0, errors.New("raw fan-out: replies missing")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
