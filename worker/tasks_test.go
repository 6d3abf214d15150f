package worker

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// Tests of task types run through a whole Worker: the worker's connection and options reach the
// executors (worker/task), and every result is stored and its job acknowledged.

// discoverableFleet registers two nodes in the node registry: web1, in the uk with class apache
// and agent puppet 2.1.0, whose agent answers pings; and web2, in de, with no agent listening.
func discoverableFleet(t *testing.T, nc *nats.Conn, js jetstream.JetStream) {
	t.Helper()
	reg, err := kvstore.OpenNodes(t.Context(), js, kvstore.Config{})
	if err != nil {
		t.Fatalf("open registry: %v", err)
	}
	for _, n := range []protocol.NodeInfo{
		{Identity: "web1.uk.example.net", Facts: map[string]any{"country": "uk"}, Classes: []string{"apache"},
			Agents: []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}, {Name: "puppet", Version: "2.1.0"}}},
		{Identity: "web2.de.example.net", Facts: map[string]any{"country": "de"}, Classes: []string{"nginx"},
			Agents: []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}}},
	} {
		if err := reg.Register(t.Context(), n); err != nil {
			t.Fatalf("register %s: %v", n.Identity, err)
		}
	}
	sub, err := nc.Subscribe(protocol.NodeRPCSubject("web1.uk.example.net"), func(m *nats.Msg) {
		var req protocol.RPCRequest
		_ = json.Unmarshal(m.Data, &req)
		data, _ := json.Marshal(protocol.RPCReply{Version: 1, RequestID: req.RequestID, Identity: "web1.uk.example.net", Success: true})
		_ = m.Respond(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoverJobOnWorker(t *testing.T) {
	nc, js := setup(t)
	discoverableFleet(t, nc, js)
	start(t, newWorker(t, nc, WithName("w1")))

	ok := protocol.Job{
		Version: protocol.JobVersion, ID: protocol.JobID{RunID: "r1", Step: 1, Attempt: 1}, Type: protocol.TaskDiscover,
		Timeout: 5 * time.Second,
		Discover: &protocol.DiscoverSpec{Name: "web", Type: "mcollective", Test: true, Uses: map[string]string{"puppet": "~2.1"},
			Properties: map[string]any{"classes": []any{"apache"}}},
	}
	publishJob(t, js, ok)
	res := waitResult(t, js, ok.ID)
	if !res.Success || res.Worker != "w1" || res.Msg != "node set web: discovered 1 nodes" {
		t.Fatalf("result: %+v", res)
	}
	if got, _ := res.Data.([]any); len(got) != 1 || got[0] != "web1.uk.example.net" {
		t.Fatalf("data %#v, want [web1.uk.example.net]", res.Data)
	}

	bad := ok
	bad.ID.Step = 2
	bad.Discover = &protocol.DiscoverSpec{Name: "de", Type: "fleet", Test: true, Properties: map[string]any{"facts": []any{"country=de"}}}
	bad.Timeout = time.Second
	publishJob(t, js, bad)
	res = waitResult(t, js, bad.ID)
	if res.Success || !strings.HasPrefix(res.Msg, "node set de: connectivity test failed for 1 of 1 nodes: web2.de.example.net (no node agent is listening)") {
		t.Fatalf("result: %+v", res)
	}

	none := ok
	none.ID.Step = 3
	none.Discover = nil
	publishJob(t, js, none)
	if res = waitResult(t, js, none.ID); res.Success || res.Msg != "discover job has no discover spec" {
		t.Fatalf("result: %+v", res)
	}
	waitJobsEmpty(t, js)
}
