package browser

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fleetbook/fleetbook/protocol"
)

// The 10,000-node fleet: okNodes nodes with the fact role=web (web00001.sim ...) and failNodes
// with role=bad (bad001.sim ... bad037.sim), which the inventory run's assertion fails.
const (
	okNodes   = 9963
	failNodes = 37
	allNodes  = okNodes + failNodes
)

// inventoryBook asks every node of the registry for its inventory and asserts its role is web:
// the bad nodes answer, and fail.
var inventoryBook = fmt.Sprintf(`name: fleet_inventory
version: "1.0.0"
author: "browser tests"
description: "Every node's inventory; a node whose role is not web fails"
nodes:
  all:
    type: fleet
    at_least: %d
tasks:
  - rpc:
      description: "inventory of every node"
      action: rpcutil.inventory
      nodes: "{{{ nodes.all }}}"
      assert: "facts.role=web"
      batch_size: 1000
`, allNodes)

// bigRun starts up (with o) and the 10,000-node fleet, runs inventoryBook to its end and returns
// the fleet, the run's id and every node's outcome (the fleet's web nodes ok, its bad ones failed).
func bigRun(tb testing.TB, o upOptions) (*fleet, string, map[string]protocol.NodeResult) {
	tb.Helper()
	fleetFile := filepath.Join(tb.TempDir(), "fleet.yaml")
	doc := fmt.Sprintf("nodes:\n  - count: %d\n    identity: \"web%%05d.sim\"\n    facts: {role: web}\n  - count: %d\n    identity: \"bad%%03d.sim\"\n    facts: {role: bad}\n", okNodes, failNodes)
	if err := os.WriteFile(fleetFile, []byte(doc), 0o644); err != nil {
		tb.Fatal(err)
	}
	o.fleetFile = fleetFile
	f := startUp(tb, binary, o)
	f.waitNodes(tb, allNodes)
	id := f.submit(tb, inventoryBook, nil)
	r := f.waitRun(tb, id)
	if r.Status != protocol.StatusFailed || len(r.Tasks) != 1 {
		tb.Fatalf("the inventory run ended %s with %d tasks (%s), want failed with one task", r.Status, len(r.Tasks), r.Error)
	}
	if !strings.Contains(r.Error, fmt.Sprintf("%d/%d nodes ok, %d failed", okNodes, allNodes, failNodes)) {
		tb.Fatalf("the inventory run: %s; want %d of %d nodes ok", r.Error, okNodes, allNodes)
	}
	// Every node's outcome, as the fleet file makes them: the page's table holds them all
	// (runs.nodes), not only the 1,000 the report keeps.
	// A fleet file numbers a group's nodes from 1.
	nodes := map[string]protocol.NodeResult{}
	for i := 1; i <= okNodes; i++ {
		nodes[fmt.Sprintf("web%05d.sim", i)] = protocol.NodeResult{Success: true}
	}
	for i := 1; i <= failNodes; i++ {
		nodes[fmt.Sprintf("bad%03d.sim", i)] = protocol.NodeResult{}
	}
	return f, id, nodes
}

// matching counts the nodes whose identity contains search and whose outcome is outcome (ok,
// failed, or "" for both).
func matching(nodes map[string]protocol.NodeResult, outcome, search string) int {
	n := 0
	for ident, r := range nodes {
		o := "failed"
		if r.Success {
			o = "ok"
		}
		if (outcome == "" || o == outcome) && strings.Contains(ident, search) {
			n++
		}
	}
	return n
}

// The run page of a 10,000-node rpc step becomes interactive, and its node table filters: to the
// failed nodes (the count is the nodes the test made fail and every row shown is failed), by
// identity within them, by identity among all, and to the ok nodes: every one of the 10,000
// nodes, not only the 1,000 the run's report keeps.
func TestRunPageOf10kNodesFilters(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 simulated nodes: not with -short")
	}
	f, id, nodes := bigRun(t, upOptions{})
	var okIdent string
	for ident, r := range nodes {
		if r.Success && (okIdent == "" || ident < okIdent) {
			okIdent = ident
		}
	}
	okSearch := okIdent[:len("web0000")] // the first ok node's block of ten
	ctx := newBrowser(t)
	signIn(t, ctx, f.signIn)
	do(t, ctx, "open the 10,000-node run", chromedp.Navigate(f.console+"/runs/"+id), ready("run"), visible("section.node-table"))

	table := "section.node-table"
	// The table says the complete counts, also of the nodes the report does not keep.
	totals := get(t, ctx, "read the node totals", chromedp.Evaluate[map[string]string](fmt.Sprintf(`({...document.querySelector(%s).dataset})`, js(table+" .node-totals"))))
	if totals["total"] != fmt.Sprint(allNodes) || totals["ok"] != fmt.Sprint(okNodes) || totals["failed"] != fmt.Sprint(failNodes) {
		t.Errorf(".node-totals %v, want total %d, ok %d, failed %d", totals, allNodes, okNodes, failNodes)
	}
	rows := func() []string {
		t.Helper()
		return get(t, ctx, "read the node rows", chromedp.Evaluate[[]string](fmt.Sprintf(
			`[...document.querySelectorAll(%s)].map(r => r.dataset.outcome + " " + r.dataset.identity)`, js(table+" tr.node"))))
	}
	// count waits until .node-count says want, then checks the rows in the DOM: some, no more
	// than want, each with outcome (when set) and containing search.
	count := func(what string, want int, outcome, search string) {
		t.Helper()
		do(t, ctx, fmt.Sprintf("see %d %s", want, what), until(fmt.Sprintf(`document.querySelector(%s).textContent.trim() === %s`, js(table+" .node-count"), js(fmt.Sprint(want)))))
		got := rows()
		if len(got) == 0 || len(got) > want {
			t.Errorf("%s: %d rows in the DOM, want 1 to %d", what, len(got), want)
		}
		for _, r := range got {
			o, ident, _ := strings.Cut(r, " ")
			if (outcome != "" && o != outcome) || !strings.Contains(ident, search) {
				t.Errorf("%s: a row %q (want outcome %q, identity containing %q)", what, r, outcome, search)
				break
			}
		}
	}
	count("nodes", len(nodes), "", "")
	do(t, ctx, "filter to failed", chromedp.Click(chromedp.CSS(table+` button[data-filter="failed"]`)))
	count("failed nodes", failNodes, "failed", "bad")
	screenshot(t, ctx, "run-nodes")
	do(t, ctx, "search bad01 among failed", typeInto(table+" input.node-search", "bad01"))
	count("failed nodes matching bad01", 10, "failed", "bad01") // bad010 .. bad019
	do(t, ctx, "show all nodes matching "+okSearch, chromedp.Click(chromedp.CSS(table+` button[data-filter="all"]`)), typeInto(table+" input.node-search", okSearch))
	count("nodes matching "+okSearch, matching(nodes, "", okSearch), "ok", okSearch)
	do(t, ctx, "show the ok nodes", chromedp.Click(chromedp.CSS(table+` button[data-filter="ok"]`)), typeInto(table+" input.node-search", ""))
	count("ok nodes", matching(nodes, "ok", ""), "ok", "")
}
