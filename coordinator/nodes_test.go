package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// nodes.list answers the registry newest-seen first, paged, filtered by identity; it needs read,
// refuses fields it does not have, and a console lists nodes for who signed in to it only.
func TestListNodes(t *testing.T) {
	e := newSigninEnv(t)
	ctx := context.Background()
	reg, err := kvstore.OpenNodes(ctx, e.js, kvstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	agents := []protocol.AgentInfo{{Name: "appmgr", Version: "2.0.0"}}
	var infos []protocol.NodeInfo
	for i := range 5 {
		infos = append(infos, protocol.NodeInfo{Identity: fmt.Sprintf("web%d.example.net", i), Agents: agents,
			Facts: map[string]any{"role": "web", "cluster": "alfa"}, Classes: []string{"roles::web"}})
	}
	infos = append(infos, protocol.NodeInfo{Identity: "db1.example.net"})
	// One node at a time, so each is seen later than the one before; then web0 again, kept in
	// the slice as an agent keeps it, so it is the newest and keeps its first registration.
	for i := range infos {
		if err := reg.RegisterAll(ctx, infos[i:i+1], 1); err != nil {
			t.Fatal(err)
		}
	}
	first := infos[0].Registered
	if err := reg.RegisterAll(ctx, infos[:1], 1); err != nil {
		t.Fatal(err)
	}

	asAlice := e.console.ForSession(e.grant("alice"))
	all, err := asAlice.ListNodes(ctx, protocol.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, n := range all.Nodes {
		order = append(order, n.Identity)
	}
	want := "web0.example.net db1.example.net web4.example.net web3.example.net web2.example.net web1.example.net"
	if got := strings.Join(order, " "); got != want || all.Total != 6 || all.NextOffset != 0 {
		t.Fatalf("nodes %s (total %d, next %d), want %s", got, all.Total, all.NextOffset, want)
	}
	web0 := all.Nodes[0]
	if web0.Facts != 2 || strings.Join(web0.FactNames, ",") != "cluster,role" || len(web0.Agents) != 1 || web0.Agents[0] != agents[0] ||
		!web0.Registered.Equal(first) || !web0.Seen.After(first) || web0.Classes[0] != "roles::web" {
		t.Errorf("web0: %+v (first registered %s)", web0, first)
	}
	if db := all.Nodes[1]; db.Facts != 0 || db.Agents == nil {
		t.Errorf("db1: %+v", db)
	}

	page, err := e.bob.ListNodes(ctx, protocol.ListNodesRequest{Search: "web", Limit: 2, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 5 || page.NextOffset != 3 || len(page.Nodes) != 2 || page.Nodes[0].Identity != "web4.example.net" || page.Nodes[1].Identity != "web3.example.net" {
		t.Errorf("page 2 of web nodes: %+v", page)
	}
	last, err := e.bob.ListNodes(ctx, protocol.ListNodesRequest{Search: "web", Limit: 2, Offset: 4})
	if err != nil || len(last.Nodes) != 1 || last.NextOffset != 0 {
		t.Errorf("last page: %+v, %v", last, err)
	}
	if none, err := e.bob.ListNodes(ctx, protocol.ListNodesRequest{Offset: 100}); err != nil || len(none.Nodes) != 0 || none.Total != 6 {
		t.Errorf("past the end: %+v, %v", none, err)
	}

	var apiErr *protocol.ErrorResponse
	for body, want := range map[string]string{
		`{"version":1,"limt":5}`:     `"limt"`,
		`{"version":1,"limit":-1}`:   "limit",
		`{"version":1,"offset":-1}`:  "offset",
		`{"version":1,"limit":5000}`: "limit",
	} {
		err := e.bob.callRaw(ctx, protocol.ListNodesSubject, []byte(body), &protocol.ListNodesResponse{})
		if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeBadRequest || !strings.Contains(apiErr.Message, want) {
			t.Errorf("%s: %v, want BAD_REQUEST naming %s", body, err, want)
		}
	}
	_, err = e.console.ListNodes(ctx, protocol.ListNodesRequest{})
	forbidden(t, err, "console", "read")
	_, err = e.unsigned.ListNodes(ctx, protocol.ListNodesRequest{})
	forbidden(t, err, "unsigned", "read")
}
