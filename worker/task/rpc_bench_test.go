package task

import (
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/trust"
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

	b.Run("fleetbook", func(b *testing.B) { benchFanout(b, s.ClientURL(), nodes, nil) })
	// The same with a signed grant: the worker builds the target tree and attaches each node's
	// proof; the agents verify every request.
	b.Run("fleetbook-signed", func(b *testing.B) { benchFanout(b, s.ClientURL(), nodes, testSigner(b)) })

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

// benchFanout fans rpcutil#ping out to nodes, served by one in-process fleet, once per
// iteration; with signer, each fan-out carries a fresh signed grant and the fleet trusts only
// signer.
func benchFanout(b *testing.B, url string, nodes []agent.Node, signer *trust.Signer) {
	var opts []agent.Option
	if signer != nil {
		opts = append(opts, agent.WithTrustedSigners(signer.PublicKey()))
	}
	startFleet(b, url, nodes, opts...)
	nc, _ := natstest.Connect(b, url)
	ids := identities(nodes)
	spec := protocol.RPCSpec{Agent: "rpcutil", Action: "ping", Timeout: 30 * time.Second}
	b.ResetTimer()
	for i := range b.N {
		id := protocol.JobID{RunID: "bench", Step: i + 1, Attempt: 1}
		var grant *protocol.Grant
		if signer != nil {
			var err error
			if grant, err = signer.RPCGrant(id, spec.Agent, spec.Action, nil, ids, time.Now(), time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		res, err := Fanout(b.Context(), nc, spec, ids, id.String(), "bench", grant)
		if err != nil {
			b.Fatal(err)
		}
		ok := 0
		for _, r := range res {
			if r.Success {
				ok++
			}
		}
		if ok != len(nodes) {
			b.Fatalf("%d/%d nodes ok", ok, len(nodes))
		}
	}
}
