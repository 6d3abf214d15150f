package coordinator

import (
	"fmt"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

// TestReportCutsLargeNodeSets checks that a report lists at most protocol.ReportNodeSetLimit
// identities of a set, the first discovered, and counts every set whole, so that a run to
// 100,000 nodes still has a report that fits one message.
func TestReportCutsLargeNodeSets(t *testing.T) {
	big := make([]string, protocol.ReportNodeSetLimit+500)
	for i := range big {
		big[i] = fmt.Sprintf("web-%06d.prod.example.net", i)
	}
	rec := &protocol.RunRecord{ID: "r1", Nodes: map[string][]string{"web": big, "db": {"db1", "db2"}, "none": {}}}
	r := ReportOf(rec)
	if got := len(r.Nodes["web"]); got != protocol.ReportNodeSetLimit {
		t.Fatalf("web lists %d nodes, want %d", got, protocol.ReportNodeSetLimit)
	}
	if r.Nodes["web"][0] != big[0] || r.Nodes["web"][protocol.ReportNodeSetLimit-1] != big[protocol.ReportNodeSetLimit-1] {
		t.Fatalf("web lists %s..%s, want the first discovered", r.Nodes["web"][0], r.Nodes["web"][protocol.ReportNodeSetLimit-1])
	}
	if len(r.Nodes["db"]) != 2 || r.Nodes["none"] == nil {
		t.Fatalf("small sets changed: %v", r.Nodes)
	}
	want := map[string]int{"web": len(big), "db": 2, "none": 0}
	for name, n := range want {
		if r.NodeCounts[name] != n {
			t.Fatalf("node_counts[%s] = %d, want %d", name, r.NodeCounts[name], n)
		}
	}
	// The report must not alias the record's set: appending to one must not write the other.
	r.Nodes["web"] = append(r.Nodes["web"], "extra")
	if big[protocol.ReportNodeSetLimit] == "extra" {
		t.Fatal("the report's cut set shares its array with the record")
	}
	if r := ReportOf(&protocol.RunRecord{ID: "r2"}); r.Nodes == nil || r.NodeCounts == nil {
		t.Fatal("a run with no node sets reports nil maps, want empty")
	}
}
