package kvstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

func TestNodes_RegisterListExpire(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := t.Context()
	// OpenNodes creates the bucket when nothing provisioned it.
	nodes, err := OpenNodes(ctx, js, Config{NodesTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if ttl, err := nodes.TTL(ctx); err != nil || ttl != time.Second {
		t.Fatalf("ttl %s, %v", ttl, err)
	}
	agents := []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}}
	if err := nodes.Register(ctx, protocol.NodeInfo{Identity: "web1.example.net", Classes: []string{"roles::web"}, Agents: agents}); err != nil {
		t.Fatal(err)
	}
	var many []protocol.NodeInfo
	for i := range 500 {
		many = append(many, protocol.NodeInfo{Identity: fmt.Sprintf("sim%04d", i), Facts: map[string]any{"cluster": "alfa"}, Agents: agents})
	}
	if err := nodes.RegisterAll(ctx, many, 64); err != nil {
		t.Fatal(err)
	}
	list, err := nodes.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 501 || list[0].Identity != "sim0000" || list[500].Identity != "web1.example.net" {
		t.Fatalf("listed %d nodes, first %v", len(list), list[0])
	}
	web := list[500]
	if web.Version != protocol.NodeInfoVersion || web.Seen.IsZero() || web.Classes[0] != "roles::web" || web.Agents[0].Name != "rpcutil" {
		t.Fatalf("registration %+v", web)
	}

	if err := nodes.Deregister(ctx, "sim0001"); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes.Get(ctx, "sim0001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deregistered node: %v", err)
	}
	if list, _ := nodes.ListNodes(ctx); len(list) != 500 {
		t.Fatalf("after deregister: %d nodes", len(list))
	}
	// Nothing refreshes: every registration ages out.
	// Each listing has a bound of its own: one listing once hung while its keys expired (CI, once
	// in about 12 runs), and must turn into another try, not a test stuck until go test's timeout.
	natstest.Eventually(t, 20*time.Second, func() error {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		list, err := nodes.ListNodes(lctx)
		if err != nil || len(list) != 0 {
			return fmt.Errorf("%d nodes left (%v)", len(list), err)
		}
		return nil
	})
}

func TestNodes_RefusesBadIdentity(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	nodes, err := OpenNodes(t.Context(), js, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "a b", "a..b", ".a", "a*", "a>"} {
		if err := nodes.Register(t.Context(), protocol.NodeInfo{Identity: id}); err == nil {
			t.Errorf("identity %q was accepted", id)
		}
	}
}

func TestProvision_NodesBucketTTL(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	if err := Provision(t.Context(), js, Config{}); err != nil {
		t.Fatal(err)
	}
	nodes, err := OpenNodes(t.Context(), js, Config{NodesTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// The provisioned bucket wins over the opener's config.
	if ttl, _ := nodes.TTL(t.Context()); ttl != DefaultNodesTTL {
		t.Fatalf("ttl %s, want %s", ttl, DefaultNodesTTL)
	}
}

// BenchmarkListNodes10k reads a registry of 10,000 nodes, as discovery does for every fleet
// node set.
//
//	go test ./kvstore/ -run '^$' -bench ListNodes10k
func BenchmarkListNodes10k(b *testing.B) {
	s := natstest.RunServer(b)
	_, js := natstest.Connect(b, s.ClientURL())
	nodes, err := OpenNodes(b.Context(), js, Config{})
	if err != nil {
		b.Fatal(err)
	}
	agents := []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}, {Name: "puppet", Version: "1.2.0"}}
	infos := make([]protocol.NodeInfo, 10000)
	for i := range infos {
		infos[i] = protocol.NodeInfo{Identity: fmt.Sprintf("web%05d.sim", i), Facts: map[string]any{"cluster": "alfa", "role": "web"},
			Classes: []string{"roles::web"}, Agents: agents}
	}
	start := time.Now()
	if err := nodes.RegisterAll(b.Context(), infos, 256); err != nil {
		b.Fatal(err)
	}
	registered := time.Since(start)
	b.ResetTimer()
	for range b.N {
		list, err := nodes.ListNodes(b.Context())
		if err != nil || len(list) != len(infos) {
			b.Fatalf("listed %d (%v)", len(list), err)
		}
	}
	b.ReportMetric(float64(registered.Milliseconds()), "register-all-ms")
}
