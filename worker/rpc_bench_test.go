package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// BenchmarkRPCJob10k measures one rpc batch (rpcutil#ping) to 10,000 simulated nodes through the
// worker: the job from the JOBS stream, the fan-out, and the 10,000-node result published to the
// RESULTS stream. BenchmarkRPCFanout10k in worker/task measures the fan-out alone.
func BenchmarkRPCJob10k(b *testing.B) {
	const n = 10000
	s := natstest.RunServer(b)
	nodes := make([]agent.Node, n)
	ids := make([]string, n)
	for i := range nodes {
		ids[i] = fmt.Sprintf("sim%05d.test", i)
		nodes[i] = agent.Node{Identity: ids[i]}
	}
	fnc, _ := natstest.Connect(b, s.ClientURL())
	fleet, err := agent.New(fnc, nodes, agent.WithoutRegistration(),
		agent.WithAgentsDir(filepath.Join("..", "examples", "web-cluster", "agents")), agent.WithStateDir(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	fctx, stopFleet := context.WithCancel(context.Background())
	fleetDone := make(chan error, 1)
	go func() { fleetDone <- fleet.Run(fctx) }()
	defer func() { stopFleet(); <-fleetDone }()
	<-fleet.Ready()
	nc, js := natstest.Connect(b, s.ClientURL())
	if err := kvstore.Provision(b.Context(), js, kvstore.Config{}); err != nil {
		b.Fatal(err)
	}
	w, err := New(nc, WithConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var size int
	b.ResetTimer()
	for i := range b.N {
		job := protocol.Job{
			Version: protocol.JobVersion, ID: protocol.JobID{RunID: "rpcrun", Step: i + 1, Attempt: 1},
			Type: protocol.TaskRPC, RPC: &protocol.RPCSpec{Agent: "rpcutil", Action: "ping"}, Targets: ids,
		}
		data, _ := json.Marshal(job)
		if _, err := js.Publish(b.Context(), protocol.JobSubject(protocol.DefaultPool, job.ID), data); err != nil {
			b.Fatal(err)
		}
		var res *protocol.Result
		natstest.Eventually(b, wait, func() error {
			var err error
			res, _, err = lastResult(b.Context(), js, job.ID)
			return err
		})
		if !res.Success {
			b.Fatalf("job: %s", res.Msg)
		}
		raw, _ := json.Marshal(res)
		size = len(raw)
	}
	b.ReportMetric(float64(size), "result-bytes")
}
