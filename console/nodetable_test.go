package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/worker/agent"
)

// wideBook pings every node of input targets in one rpc task.
const wideBook = `name: wide
version: "1.0.0"
author: console test
description: one rpc task to many nodes
inputs:
  targets:
    description: the nodes
    type: Array
tasks:
  - rpc:
      description: ping them all
      action: rpcutil.ping
      nodes: "{{{ inputs.targets }}}"
      timeout: 2
`

// The node table of a 10,000-node rpc task comes as compact JSON rows of every node, in pages
// no bigger than the console's page size, filtered by outcome and identity; the page shows the
// section and the true counts, and strangers get nothing.
func TestNodeTableOfTenThousandNodes(t *testing.T) {
	e := newEnv(t, WithNodePage(4000))
	const answering, total = 50, 10000
	nodes := make([]agent.Node, answering)
	targets := make([]any, 0, total)
	for i := range nodes {
		nodes[i] = agent.Node{Identity: fmt.Sprintf("up%03d.example", i)}
		targets = append(targets, nodes[i].Identity)
	}
	// The other nodes have no agent: they do not answer, and fail.
	for i := answering; i < total; i++ {
		targets = append(targets, fmt.Sprintf("gone%05d.example", i))
	}
	e.startNodes(nodes)

	id := e.submit(wideBook, map[string]any{"targets": targets})
	rep := e.final(id)
	if len(rep.Tasks) != 1 || rep.Tasks[0].NodesOK != answering || rep.Tasks[0].NodesFailed != total-answering {
		t.Fatalf("report tasks %+v", rep.Tasks)
	}
	grant := e.grant("viewer")
	get := func(query string) (nodeRows, response) {
		t.Helper()
		r := e.get("/runs/"+id+"/nodes?"+query, grant)
		var page nodeRows
		if r.status == http.StatusOK {
			if err := json.Unmarshal([]byte(r.body), &page); err != nil {
				t.Fatal(err)
			}
		}
		return page, r
	}
	// Every node's outcome comes (runs.nodes, from the step's results), in pages of the
	// console's size, with the counts of all 10,000.
	seen := map[string]bool{}
	offset := 0
	for {
		page, r := get(fmt.Sprintf("seq=1&limit=4000&offset=%d", offset))
		if r.status != http.StatusOK || len(page.Rows) > 4000 || page.Total != total || page.OK != answering || !page.Complete || page.Kept != total {
			t.Fatalf("page at %d: %d, %d rows, total %d, ok %d, complete %v, kept %d:\n%.300s", offset, r.status, len(page.Rows), page.Total, page.OK, page.Complete, page.Kept, r.body)
		}
		if len(page.Rows) == 4000 && len(r.body) > 4000*60 {
			t.Errorf("4,000 rows are %d bytes: not compact", len(r.body))
		}
		for _, row := range page.Rows {
			if seen[row[0].(string)] {
				t.Fatalf("node %s twice", row[0])
			}
			seen[row[0].(string)] = true
		}
		if page.NextOffset == 0 {
			break
		}
		offset = page.NextOffset
	}
	if len(seen) != total {
		t.Errorf("%d nodes paged, want every one of %d", len(seen), total)
	}
	// Filtered by outcome and identity on the coordinator.
	if page, r := get("seq=1&outcome=failed&limit=4000"); page.Matching != total-answering || len(page.Rows) != 4000 || page.Rows[0][1] != float64(0) {
		t.Errorf("failed: %d matching, %d rows, first %v: %.200s", page.Matching, len(page.Rows), page.Rows, r.body)
	}
	if page, r := get("seq=1&outcome=ok&q=up01"); page.Matching != 10 || len(page.Rows) != 10 || !strings.HasPrefix(page.Rows[0][0].(string), "up01") {
		t.Errorf("ok with up01: %d matching, rows %v: %.200s", page.Matching, page.Rows, r.body)
	}
	for query, field := range map[string]string{"seq=0": "seq", "seq=1&outcome=maybe": "outcome", "seq=1&limit=4001": "limit", "seq=1&offset=-1": "offset"} {
		if _, r := get(query); r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid field "+field) {
			t.Errorf("%s: %d %s", query, r.status, r.body)
		}
	}
	if _, r := get("seq=2"); r.status != http.StatusNotFound {
		t.Errorf("seq=2 of a one-task run: %d %s", r.status, r.body)
	}
	if r := e.get("/runs/"+id+"/nodes?seq=1", e.grant("stranger")); r.status != http.StatusForbidden || strings.Contains(r.body, "example") {
		t.Errorf("a stranger's node rows: %d %.200s", r.status, r.body)
	}
	page := e.get("/runs/"+id, grant)
	if !strings.Contains(page.body, `<section class="node-table" data-seq="1" data-total="10000">`) || strings.Contains(page.body, `<tr class="node"`) ||
		!strings.Contains(page.body, `<span class="node-kept" hidden></span>`) ||
		!strings.Contains(page.body, `<span class="node-totals" data-total="10000" data-ok="50" data-failed="9950">10000 nodes: 50 ok, 9950 failed</span>`) {
		t.Errorf("the run page does not hold the node table's section, lacks the note on nodes no longer kept, or renders rows itself:\n%s", page.body)
	}
	if len(page.body) > 100_000 {
		t.Errorf("the run page is %d bytes: the 10,000 targets input is shown whole", len(page.body))
	}
}
