package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

// runs nodes lists every node's outcome of a run's rpc steps, filtered by outcome and identity,
// as a table or as JSON; a step the run does not have is refused.
func TestRunsNodes(t *testing.T) {
	s := newStack(t)
	s.fleet(12)
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("node%04d.sim", i))
	}
	names = append(names, "ghost1.sim", "ghost2.sim")
	doc := stackHeader + "tasks:\n  - log:\n      message: before\n" +
		"  - rpc:\n      action: rpcutil.ping\n      nodes: [" + strings.Join(names, ", ") + "]\n      timeout: 1\n"
	r := s.run(doc, nil)
	if r.Status != protocol.StatusFailed || len(r.Tasks) != 2 {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	dir := t.TempDir()
	conn := []string{"--server", s.url}
	type listed struct {
		RunID string `json:"run_id"`
		Steps []struct {
			Seq           int
			OK, Failed    int
			TotalMatching int `json:"total_matching"`
			Complete      bool
			Nodes         []protocol.RunNode
		}
	}
	list := func(args ...string) listed {
		t.Helper()
		res := cli(t, dir, append(append([]string{"runs", "nodes", r.ID, "--json"}, args...), conn...)...)
		if res.code != exitOK {
			t.Fatalf("runs nodes %v: exit %d: %s", args, res.code, res.stderr)
		}
		var out listed
		if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
			t.Fatalf("runs nodes --json: %v\n%s", err, res.stdout)
		}
		return out
	}
	all := list()
	if all.RunID != r.ID || len(all.Steps) != 1 || all.Steps[0].Seq != 2 || len(all.Steps[0].Nodes) != 14 ||
		all.Steps[0].OK != 12 || all.Steps[0].Failed != 2 || !all.Steps[0].Complete {
		t.Fatalf("runs nodes lists %+v, want step 2's 14 nodes, 2 failed, complete", all)
	}
	if failed := list("--failed").Steps[0].Nodes; len(failed) != 2 || failed[0].Identity != "ghost1.sim" || failed[0].Success {
		t.Errorf("--failed lists %+v, want the 2 ghosts", failed)
	}
	if ok := list("--ok", "--step", "2").Steps[0].Nodes; len(ok) != 12 {
		t.Errorf("--ok lists %d nodes, want 12", len(ok))
	}
	if found := list("--search", "0011").Steps[0]; len(found.Nodes) != 1 || found.TotalMatching != 1 || found.Nodes[0].Identity != "node0011.sim" {
		t.Errorf("--search 0011 lists %+v", found)
	}

	text := cli(t, dir, append([]string{"runs", "nodes", r.ID, "--failed"}, conn...)...)
	if text.code != exitOK || !strings.Contains(text.stdout, "step 2, rpc") || !strings.Contains(text.stdout, "12 ok, 2 failed") ||
		!strings.Contains(text.stdout, "ghost2.sim") || strings.Contains(text.stdout, "node0000.sim") {
		t.Errorf("runs nodes --failed: exit %d\n%s%s", text.code, text.stdout, text.stderr)
	}
	for _, args := range [][]string{{"--step", "3"}, {"--failed", "--ok"}, {"--step", "0"}} {
		if res := cli(t, dir, append(append([]string{"runs", "nodes", r.ID}, args...), conn...)...); res.code != exitRefused {
			t.Errorf("runs nodes %v: exit %d, want %d\n%s", args, res.code, exitRefused, res.stderr)
		}
	}
}
