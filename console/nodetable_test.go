package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
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

// The node table of a 10,000-node rpc task comes as compact JSON rows, sorted, in pages no
// bigger than the console's page size, filtered by outcome and identity; the page shows the
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
	// The report keeps 1,000 of the nodes (docs/console.md): the rows are those, in pages of the
	// console's size, and the counts are of all 10,000.
	var all []string
	offset := 0
	for {
		page, r := get(fmt.Sprintf("seq=1&limit=400&offset=%d", offset))
		if r.status != http.StatusOK || len(page.Rows) > 400 || page.Total != total || page.OK != answering || page.Kept != 1000 {
			t.Fatalf("page at %d: %d, %d rows, total %d, ok %d, kept %d:\n%.300s", offset, r.status, len(page.Rows), page.Total, page.OK, page.Kept, r.body)
		}
		for _, row := range page.Rows {
			all = append(all, row[0].(string))
		}
		if page.NextOffset == 0 {
			break
		}
		offset = page.NextOffset
	}
	if len(all) != 1000 || !slices.IsSorted(all) {
		t.Errorf("%d rows, sorted %v", len(all), slices.IsSorted(all))
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
		!strings.Contains(page.body, "the report keeps 1000 of 10000") ||
		!strings.Contains(page.body, `<span class="node-totals" data-total="10000" data-ok="50" data-failed="9950">10000 nodes: 50 ok, 9950 failed</span>`) {
		t.Errorf("the run page does not hold the node table's section, says nothing of the nodes kept, or renders rows itself:\n%s", page.body)
	}
	if len(page.body) > 100_000 {
		t.Errorf("the run page is %d bytes: the 10,000 targets input is shown whole", len(page.body))
	}
}

// A page of a 10,000-node table is compact rows, sorted by identity, filtered by outcome and
// identity substring, cut at the limit with the next offset.
func TestNodePageOfTenThousandRows(t *testing.T) {
	nodes := map[string]protocol.NodeResult{}
	for i := range 10000 {
		nodes[fmt.Sprintf("node%05d.example", i)] = protocol.NodeResult{Success: i%10 != 0, Msg: "m"}
	}
	p := nodePage(1, nodes, "all", "", 0, 5000)
	if p.Kept != 10000 || p.Matching != 10000 || len(p.Rows) != 5000 || p.NextOffset != 5000 ||
		p.Rows[0][0] != "node00000.example" || p.Rows[0][1] != 0 || p.Rows[1][1] != 1 {
		t.Errorf("first page: kept %d, matching %d, %d rows, next %d, rows %v %v", p.Kept, p.Matching, len(p.Rows), p.NextOffset, p.Rows[0], p.Rows[1])
	}
	b, _ := json.Marshal(p)
	if len(b) > 5000*30 {
		t.Errorf("5,000 rows are %d bytes", len(b))
	}
	if p := nodePage(1, nodes, "all", "", 5000, 5000); len(p.Rows) != 5000 || p.NextOffset != 0 || p.Rows[4999][0] != "node09999.example" {
		t.Errorf("last page: %d rows, next %d", len(p.Rows), p.NextOffset)
	}
	if p := nodePage(1, nodes, "failed", "", 0, 5000); p.Matching != 1000 || p.Rows[1][0] != "node00010.example" {
		t.Errorf("failed: %d matching, second %v", p.Matching, p.Rows[1])
	}
	if p := nodePage(1, nodes, "ok", "node0999", 0, 5000); p.Matching != 9 || p.Rows[0][0] != "node09991.example" {
		t.Errorf("ok with node0999: %d matching, rows %v", p.Matching, p.Rows)
	}
	if p := nodePage(1, nodes, "all", "", 20000, 5000); len(p.Rows) != 0 || p.NextOffset != 0 {
		t.Errorf("past the end: %v", p)
	}
}
