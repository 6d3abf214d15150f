package task

import (
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// BenchmarkRPCFanout10k measures one rpc batch to 10,000 simulated nodes (rpcutil#ping, one
// in-process fleet) next to the raw baseline: 10,000 core NATS request/replies with one shared
// reply subscription and a responder that answers a fixed payload. Target: fleetbook < 1 s.
//
//	go test ./worker/task/ -run '^$' -bench RPCFanout10k -benchtime 10x
func BenchmarkRPCFanout10k(b *testing.B) {
	const n = 10000
	s := natstest.RunServer(b)
	nodes := simNodes(n)
	ids := identities(nodes)

	b.Run("fleetbook", func(b *testing.B) {
		startFleet(b, s.ClientURL(), nodes)
		nc, _ := natstest.Connect(b, s.ClientURL())
		spec := protocol.RPCSpec{Agent: "rpcutil", Action: "ping", Timeout: 30 * time.Second}
		b.ResetTimer()
		for i := range b.N {
			res, err := Fanout(b.Context(), nc, spec, ids, "bench/"+strconv.Itoa(i), "bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			ok := 0
			for _, r := range res {
				if r.Success {
					ok++
				}
			}
			if ok != n {
				b.Fatalf("%d/%d nodes ok", ok, n)
			}
		}
	})

	// The same with a signed grant: the worker builds the target tree and attaches each node's
	// proof; the agents verify every request.
	b.Run("fleetbook-signed", func(b *testing.B) {
		signer := testSigner(b)
		startFleet(b, s.ClientURL(), nodes, agent.WithTrustedSigners(signer.PublicKey()))
		nc, _ := natstest.Connect(b, s.ClientURL())
		spec := protocol.RPCSpec{Agent: "rpcutil", Action: "ping", Timeout: 30 * time.Second}
		b.ResetTimer()
		for i := range b.N {
			id := protocol.JobID{RunID: "signed", Step: i + 1, Attempt: 1}
			g, err := signer.RPCGrant(id, spec.Agent, spec.Action, nil, ids, time.Now(), time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			res, err := Fanout(b.Context(), nc, spec, ids, id.String(), "bench", g)
			if err != nil {
				b.Fatal(err)
			}
			ok := 0
			for _, r := range res {
				if r.Success {
					ok++
				}
			}
			if ok != n {
				b.Fatalf("%d/%d nodes ok", ok, n)
			}
		}
	})

	b.Run("raw", func(b *testing.B) {
		rnc, _ := natstest.Connect(b, s.ClientURL())
		pong := []byte(`{"pong":1}`)
		sub, err := rnc.Subscribe("raw.>", func(m *nats.Msg) { _ = m.Respond(pong) })
		if err != nil {
			b.Fatal(err)
		}
		_ = sub.SetPendingLimits(-1, -1)
		_ = rnc.Flush()
		nc, _ := natstest.Connect(b, s.ClientURL())
		b.ResetTimer()
		for range b.N {
			done := make(chan struct{})
			left := n
			inbox := nc.NewInbox()
			rs, err := nc.Subscribe(inbox+".*", func(*nats.Msg) {
				if left--; left == 0 {
					close(done)
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			_ = rs.SetPendingLimits(-1, -1)
			for j, id := range ids {
				if err := nc.PublishRequest("raw."+id, inbox+"."+strconv.Itoa(j), []byte(`{"ping":1}`)); err != nil {
					b.Fatal(err)
				}
			}
			_ = nc.Flush()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				b.Fatalf("raw: %d replies missing", left)
			}
			_ = rs.Unsubscribe()
		}
	})
}
