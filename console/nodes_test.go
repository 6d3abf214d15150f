package console

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// The nodes page lists the registry with each node's agents and versions and when it was last
// seen, filtered by identity and paged.
func TestNodesPage(t *testing.T) {
	e := newEnv(t)
	nodes := make([]agent.Node, 120)
	for i := range nodes {
		nodes[i] = agent.Node{Identity: fmt.Sprintf("web%03d.example", i), Classes: []string{"web"}}
	}
	e.startNodes(nodes)
	grant := e.grant("viewer")
	var r response
	natstest.Eventually(t, wait, func() error {
		r = e.get("/nodes", grant)
		if n := strings.Count(r.body, `<tr class="registry-node"`); r.status != http.StatusOK || n != nodesPageSize {
			return fmt.Errorf("nodes page: %d, %d rows", r.status, n)
		}
		return nil
	})
	for _, want := range []string{`<span id="nodes-total">120</span>`, `<td class="agents"><span class="agent">rpcutil `,
		`<td class="last-seen">20`, `<a id="next-page" href="/nodes?offset=100">`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("nodes page lacks %s", want)
		}
	}
	r = e.get("/nodes?offset=100", grant)
	if n := strings.Count(r.body, `<tr class="registry-node"`); n != 20 || strings.Contains(r.body, `id="next-page"`) {
		t.Errorf("page 2 has %d rows", n)
	}
	r = e.get("/nodes?identity=web11", grant)
	if n := strings.Count(r.body, `<tr class="registry-node"`); n != 10 || !strings.Contains(r.body, `data-identity="web115.example"`) {
		t.Errorf("identity=web11 lists %d", n)
	}
	if r := e.get("/nodes?offset=x", grant); r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid field offset") {
		t.Errorf("offset=x: %d", r.status)
	}
	if r := e.get("/nodes", e.grant("stranger")); r.status != http.StatusForbidden || strings.Contains(r.body, "web0") {
		t.Errorf("a stranger's nodes page: %d", r.status)
	}
}
