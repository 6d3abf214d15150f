package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// stack is the whole system in this test process: an embedded server, a coordinator and a worker
// (as `fleetbook up` wires them), and optionally a simulated fleet of node agents.
type stack struct {
	t      *testing.T
	url    string
	client *coordinator.Client
}

func newStack(t *testing.T) *stack {
	t.Helper()
	srv := natstest.RunServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	dial := func(name string, _ auth.Role) (*nats.Conn, error) {
		nc, err := nats.Connect(srv.ClientURL(), nats.Name(name))
		if err == nil {
			t.Cleanup(nc.Close)
		}
		return nc, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := startServices(ctx, &wg, dial, nil, log, 8, pluginSet{}, nil); err != nil {
		t.Fatal(err)
	}
	nc, _ := natstest.Connect(t, srv.ClientURL())
	client, err := coordinator.NewClient(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &stack{t: t, url: srv.ClientURL(), client: client}
}

// fleet starts n simulated nodes named node0000.sim… with the example agents, registered.
func (s *stack) fleet(n int) {
	s.t.Helper()
	nodes := make([]agent.Node, n)
	for i := range nodes {
		nodes[i] = agent.Node{Identity: fmt.Sprintf("node%04d.sim", i), Facts: map[string]any{"rack": i % 4}, Classes: []string{"sim"}}
	}
	nc, _ := natstest.Connect(s.t, s.url)
	srv, err := agent.New(nc, nodes, agent.WithAgentsDir("../../examples/web-cluster/agents"), agent.WithStateDir(s.t.TempDir()))
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	s.t.Cleanup(func() { cancel(); <-done })
	select {
	case <-srv.Ready():
	case <-time.After(30 * time.Second):
		s.t.Fatal("fleet not ready")
	}
}

func (s *stack) run(doc string, inputs map[string]any) *protocol.Report {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := s.client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, Inputs: inputs, IdempotencyKey: fmt.Sprint(time.Now().UnixNano())})
	if err != nil {
		s.t.Fatalf("submit: %v", err)
	}
	r, err := s.client.Follow(ctx, resp.RunID, time.Second, func(protocol.Event) {})
	if err != nil {
		s.t.Fatalf("follow: %v", err)
	}
	return r
}

const stackHeader = "name: stack\nversion: 1.0.0\nauthor: tests\ndescription: whole-stack tests\n"

// One rpc step reaches 1,000 simulated nodes discovered from the registry, in batches.
func TestRPCStepToThousandNodesInBatches(t *testing.T) {
	s := newStack(t)
	s.fleet(1000)
	doc := stackHeader + "nodes:\n  all:\n    type: fleet\n    classes: [sim]\n    at_least: 1000\n" +
		"tasks:\n  - rpc:\n      action: rpcutil.ping\n      nodes: \"{{{ nodes.all }}}\"\n      batch_size: 250\n      post: [summarize]\n"
	r := s.run(doc, nil)
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("%s: %s", r.Status, r.Error)
	}
	data, _ := r.Tasks[0].Data.(map[string]any)
	if len(r.Nodes["all"]) != 1000 || data["ok"] != float64(1000) || !strings.HasPrefix(r.Tasks[0].Msg, "1000/1000 nodes ok") {
		t.Errorf("nodes %d, data %v, msg %q", len(r.Nodes["all"]), data, r.Tasks[0].Msg)
	}
}

// Two runs share data through the kv data store: the first writes it with a data task, the
// second reads it as an input bound to the same key.
func TestRunsShareDataThroughKV(t *testing.T) {
	s := newStack(t)
	key := fmt.Sprintf("release_%d", time.Now().UnixNano())
	writer := stackHeader + "data_stores:\n  shared:\n    type: kv\n" +
		"tasks:\n  - data:\n      action: write\n      key: shared/" + key + "\n      value: \"2.4.1\"\n"
	if r := s.run(writer, nil); r.Status != protocol.StatusSuccess {
		t.Fatalf("writer: %s %s", r.Status, r.Error)
	}
	reader := stackHeader + "data_stores:\n  shared:\n    type: kv\n" +
		"inputs:\n  release:\n    type: String\n    description: r\n    data: shared/" + key + "\n" +
		"tasks:\n  - data:\n      action: read\n      key: shared/" + key + "\n" +
		"  - log:\n      message: \"release {{{ inputs.release }}}, read back {{{ previous_task.data }}}\"\n"
	r := s.run(reader, nil)
	if r.Status != protocol.StatusSuccess || r.Tasks[1].Msg != "release 2.4.1, read back 2.4.1" {
		t.Fatalf("reader: %s %s: %+v", r.Status, r.Error, r.Tasks)
	}
}
