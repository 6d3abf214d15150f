package discover

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// registerNodes puts nodes into a fresh node registry bucket.
func registerNodes(t *testing.T, js jetstream.JetStream, nodes []protocol.NodeInfo) {
	t.Helper()
	reg, err := kvstore.OpenNodes(t.Context(), js, kvstore.Config{})
	if err != nil {
		t.Fatalf("open registry: %v", err)
	}
	for _, n := range nodes {
		if err := reg.Register(t.Context(), n); err != nil {
			t.Fatalf("register %s: %v", n.Identity, err)
		}
	}
}

// answerPings makes identity answer rpcutil ping the way a node agent does; ok false answers
// with a failure.
func answerPings(t *testing.T, nc *nats.Conn, identity string, ok bool) {
	t.Helper()
	sub, err := nc.Subscribe(protocol.NodeRPCSubject(identity), func(m *nats.Msg) {
		var req protocol.RPCRequest
		if err := json.Unmarshal(m.Data, &req); err != nil || req.Agent != "rpcutil" || req.Action != "ping" || req.RequestID == "" {
			t.Errorf("%s got an unexpected request %s", identity, m.Data)
			return
		}
		reply := protocol.RPCReply{Version: 1, RequestID: req.RequestID, Identity: identity, Success: ok, Data: map[string]any{"pong": 1}}
		if !ok {
			reply.Msg = "agent is shutting down"
		}
		data, _ := json.Marshal(reply)
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

// natsDiscoverer resolves node sets against a real server's registry and nodes.
func natsDiscoverer(nc *nats.Conn, js jetstream.JetStream) *discoverer {
	d := localDiscoverer()
	d.nc, d.js, d.caller = nc, js, "r1"
	d.pingTimeout = 2 * time.Second
	return d
}

func TestDiscoverFleetFromRegistry(t *testing.T) {
	nc, js := setup(t)
	d := natsDiscoverer(nc, js)

	// No registry yet: nothing registered, nothing found (the node set's empty checks decide).
	got, err := d.discover(t.Context(), &protocol.DiscoverSpec{Name: "all", Type: "fleet"})
	if err != nil || len(got) != 0 {
		t.Fatalf("without a registry: %v, %v", got, err)
	}

	registerNodes(t, js, filterNodes)
	kv, err := js.KeyValue(t.Context(), protocol.NodesBucket)
	if err != nil {
		t.Fatal(err)
	}
	// A node that left, and a record that is not a NodeInfo, are not discovered.
	if _, err := kv.Put(t.Context(), "gone.example.net", []byte(`{"identity":"gone.example.net"}`)); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(t.Context(), "gone.example.net"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), "junk", []byte("not json")); err != nil {
		t.Fatal(err)
	}

	runDiscoverCases(t, d, []discoverCase{
		{name: "everything in identity order", typ: "fleet", props: nil, want: []string{"db1.uk.example.net", "web1.uk.example.net", "web2.de.example.net"}},
		{name: "mcollective alias with Choria keys", typ: "mcollective", props: map[string]any{
			"discovery_method": "choria", "classes": []any{"role::web"}, "facts": []any{"country=uk"},
		}, want: []string{"web1.uk.example.net"}},
		{name: "identities", typ: "fleet", props: map[string]any{"identities": []any{"/^web/", "db1.uk.example.net"}}, want: []string{"db1.uk.example.net", "web1.uk.example.net", "web2.de.example.net"}},
		{name: "agents and facts", typ: "fleet", props: map[string]any{"agents": []any{"puppet"}, "facts": []any{"cores>4"}}, want: []string{"web1.uk.example.net"}},
		{name: "compound", typ: "fleet", props: map[string]any{"compound": "(nginx or postgres) and not country=de"}, want: []string{"db1.uk.example.net"}},
		{name: "nothing matches", typ: "fleet", props: map[string]any{"classes": []any{"mysql"}}, want: []string{}},
		{name: "bad filter", typ: "fleet", props: map[string]any{"facts": []any{"cores"}}, wantErr: `facts: fact filter "cores" has no operator`},
	})
}

func TestDiscoverUsesChecksAgentVersions(t *testing.T) {
	nc, js := setup(t)
	registerNodes(t, js, filterNodes)
	d := natsDiscoverer(nc, js)
	nodes := writeFile(t, "nodes.yaml", "g: [web1.uk.example.net, db1.uk.example.net, stray.example.net]\nknown: [web1.uk.example.net]\n")

	for _, tc := range []struct {
		name    string
		spec    protocol.DiscoverSpec
		want    []string
		wantErr []string
	}{
		{
			name: "all satisfy",
			spec: protocol.DiscoverSpec{Type: "fleet", Properties: map[string]any{"agents": []any{"puppet"}}, Uses: map[string]string{"puppet": ">= 1.5", "rpcutil": "~1.0"}},
			want: []string{"db1.uk.example.net", "web1.uk.example.net"},
		},
		{
			name:    "too old and missing",
			spec:    protocol.DiscoverSpec{Type: "fleet", Uses: map[string]string{"puppet": "^2"}},
			wantErr: []string{"node db1.uk.example.net has agent puppet version 1.5.0, outside ^2", "node web2.de.example.net does not have agent puppet (wanted ^2)"},
		},
		{
			name:    "other sources are checked against the registry",
			spec:    protocol.DiscoverSpec{Type: "yaml", Properties: map[string]any{"source": nodes, "group": "g"}, Uses: map[string]string{"rpcutil": "1.x"}},
			wantErr: []string{"node stray.example.net is not in the node registry"},
		},
		{
			name: "other source all known",
			spec: protocol.DiscoverSpec{Type: "yaml", Properties: map[string]any{"source": nodes, "group": "known"}, Uses: map[string]string{"puppet": "2.1.0"}},
			want: []string{"web1.uk.example.net"},
		},
		{
			name:    "invalid range",
			spec:    protocol.DiscoverSpec{Type: "fleet", Uses: map[string]string{"puppet": ">= banana"}},
			wantErr: []string{`uses puppet: invalid version range ">= banana"`},
		},
		{
			name: "limit applies before the check",
			spec: protocol.DiscoverSpec{Type: "fleet", Limit: 2, Uses: map[string]string{"puppet": ">=1"}},
			want: []string{"db1.uk.example.net", "web1.uk.example.net"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name = "set"
			got, err := d.discover(t.Context(), &tc.spec)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("nodes %v, want an error", got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestDiscoverTestPingsNodes(t *testing.T) {
	nc, js := setup(t)
	registerNodes(t, js, filterNodes)
	answerPings(t, nc, "web1.uk.example.net", true)
	answerPings(t, nc, "db1.uk.example.net", true)
	// web2 is registered but its agent hangs: it takes requests and never answers.
	hung, err := nc.Subscribe(protocol.NodeRPCSubject("web2.de.example.net"), func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hung.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	d := natsDiscoverer(nc, js)
	d.pingTimeout = 500 * time.Millisecond

	got, err := d.discover(t.Context(), &protocol.DiscoverSpec{Name: "uk", Type: "fleet", Test: true, Properties: map[string]any{"facts": []any{"country=uk"}}})
	if err != nil || !slices.Equal(got, []string{"db1.uk.example.net", "web1.uk.example.net"}) {
		t.Fatalf("all up: %v, %v", got, err)
	}

	_, err = d.discover(t.Context(), &protocol.DiscoverSpec{Name: "all", Type: "fleet", Test: true})
	if err == nil || !strings.Contains(err.Error(), "connectivity test failed for 1 of 3 nodes: web2.de.example.net (no answer within 500ms)") {
		t.Fatalf("error %v, want web2 named as not answering", err)
	}
	if strings.Contains(err.Error(), "web1") || strings.Contains(err.Error(), "db1") {
		t.Errorf("nodes that answered are named: %v", err)
	}

	// Limit drops web2 before the test, so it is not pinged.
	got, err = d.discover(t.Context(), &protocol.DiscoverSpec{Name: "two", Type: "fleet", Test: true, Limit: 2})
	if err != nil || len(got) != 2 {
		t.Fatalf("limited: %v, %v", got, err)
	}
}

func TestDiscoverTestReportsFailedPing(t *testing.T) {
	nc, js := setup(t)
	answerPings(t, nc, "a.example", true)
	answerPings(t, nc, "b.example", false)
	d := natsDiscoverer(nc, js)
	src := writeFile(t, "n.yaml", "g: [a.example, b.example, c.example]\nbad: ['x y']\n")

	// c.example has no agent at all: NATS says nobody listens, so it fails without waiting.
	_, err := d.discover(t.Context(), &protocol.DiscoverSpec{Name: "s", Type: "yaml", Test: true, Properties: map[string]any{"source": src, "group": "g"}})
	want := "connectivity test failed for 2 of 3 nodes: b.example (ping failed: agent is shutting down); c.example (no node agent is listening)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	_, err = d.discover(t.Context(), &protocol.DiscoverSpec{Name: "s", Type: "yaml", Test: true, Properties: map[string]any{"source": src, "group": "bad"}})
	// Refused as the file is read, before any ping, as every source's identities are.
	if err == nil || !strings.Contains(err.Error(), `"x y" (group "bad" in node source file `+src+", entry 1) is not a valid node identity") {
		t.Fatalf("error %v, want the unaddressable name refused", err)
	}
}

func TestDiscoverTestPingsManyNodesThroughOneSubscription(t *testing.T) {
	nc, js := setup(t)
	const n = 2000
	var names strings.Builder
	names.WriteString("g:\n")
	for i := range n {
		fmt.Fprintf(&names, "  - node%04d.example.net\n", i)
	}
	src := writeFile(t, "many.yaml", names.String())
	// One process answering for a whole simulated fleet, except node0007.
	sub, err := nc.Subscribe("fleetbook.node.>", func(m *nats.Msg) {
		id := strings.TrimSuffix(strings.TrimPrefix(m.Subject, "fleetbook.node."), ".rpc")
		if id == "node0007.example.net" {
			return
		}
		var req protocol.RPCRequest
		_ = json.Unmarshal(m.Data, &req)
		data, _ := json.Marshal(protocol.RPCReply{Version: 1, RequestID: req.RequestID, Identity: id, Success: true})
		_ = m.Respond(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	d := natsDiscoverer(nc, js)
	d.pingTimeout = 3 * time.Second

	_, err = d.discover(t.Context(), &protocol.DiscoverSpec{Name: "many", Type: "yaml", Test: true, Properties: map[string]any{"source": src, "group": "g"}})
	want := fmt.Sprintf("connectivity test failed for 1 of %d nodes: node0007.example.net (no answer within 3s)", n)
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// filterNodes is a small fleet for the registry tests: nodes with facts, classes and agents that
// the node set filters tell apart.
var filterNodes = []protocol.NodeInfo{
	{
		Identity: "web1.uk.example.net",
		Facts: map[string]any{
			"country": "uk", "cores": float64(8), "env": "prod", "os": map[string]any{"family": "Debian", "release": map[string]any{"major": "12"}},
			"os.name": "Debian GNU/Linux", "roles": []any{"web", "cache"}, "virtual": true,
		},
		Classes: []string{"apache", "role::web"},
		Agents:  []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}, {Name: "puppet", Version: "2.1.0"}},
	},
	{
		Identity: "web2.de.example.net",
		Facts:    map[string]any{"country": "de", "cores": float64(16), "env": "prod", "os": map[string]any{"family": "RedHat", "release": map[string]any{"major": "9"}}},
		Classes:  []string{"nginx", "role::web"},
		Agents:   []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}},
	},
	{
		Identity: "db1.uk.example.net",
		Facts:    map[string]any{"country": "uk", "cores": "4", "env": "dev"},
		Classes:  []string{"postgres"},
		Agents:   []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}, {Name: "puppet", Version: "1.5.0"}},
	},
}
