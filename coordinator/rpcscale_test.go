package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// rpcScaleNodesEnv names the environment variable that runs TestRPCStepAtScale, with its number
// of nodes (FLEETBOOK_RPC_SCALE_NODES=100000).
const rpcScaleNodesEnv = "FLEETBOOK_RPC_SCALE_NODES"

// One rpc step to many simulated nodes (FLEETBOOK_RPC_SCALE_NODES; skipped without it) completes,
// and runs.nodes pages through every node's outcome: a test worker discovers the nodes and
// answers every batch with synthetic per-node results, every 7th node failing, so what is
// measured is the coordinator, the streams and the record, not a fan-out. It logs the run's wall
// time, the run record's size and the paging's time, and the coordinator's warnings on stderr.
func TestRPCStepAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(rpcScaleNodesEnv))
	if n <= 0 {
		t.Skipf("set %s to the number of nodes (100000) to run it", rpcScaleNodesEnv)
	}
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1", WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	ids := make([]any, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("web-%06d.prod.example.net", i) // as long as real identities: the discover result is 2.7 MB of JSON
	}
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if job.Type == protocol.TaskDiscover {
			return protocol.Result{Success: true, Data: ids}
		}
		return everySeventhFails(job)
	})
	doc := header + "nodes:\n  all:\n    type: yaml\n    source: fleet.yaml\n    group: all\n" +
		"tasks:\n  - rpc:\n      action: rpcutil.ping\n      nodes: \"{{{ nodes.all }}}\"\n"
	start := time.Now()
	id := e.submit(doc, nil)
	// A record over the server's payload limit is retried for ever (the coordinator logs
	// "maximum payload exceeded"): the deadline grows with the nodes rather than waiting 10 minutes.
	r := e.waitFinal(id, time.Minute+time.Duration(n)*time.Millisecond)
	wall := time.Since(start)
	wantFailed := (n + 6) / 7
	if len(r.Tasks) != 1 || r.Tasks[0].Type != protocol.TaskRPC || r.Tasks[0].State != protocol.StepFailed {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	step := r.Tasks[len(r.Tasks)-1]
	if r.NodeCounts["all"] != n || len(r.Nodes["all"]) != min(n, protocol.ReportNodeSetLimit) {
		t.Fatalf("report counts %d nodes and lists %d; want %d and %d", r.NodeCounts["all"], len(r.Nodes["all"]), n, min(n, protocol.ReportNodeSetLimit))
	}
	kv, err := e.js.KeyValue(context.Background(), protocol.RunsBucket)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	raw := len(entry.Value())

	start = time.Now()
	pages, seen := 0, map[string]bool{}
	req := protocol.RunNodesRequest{RunID: id, Seq: step.Number, Limit: 1000}
	var last *protocol.RunNodesResponse
	natstest.Eventually(t, time.Minute, func() error { _, err := e.client.ListRunNodes(context.Background(), req); return err })
	for {
		page, err := e.client.ListRunNodes(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, nd := range page.Nodes {
			if seen[nd.Identity] {
				t.Fatalf("node %s paged twice", nd.Identity)
			}
			seen[nd.Identity] = true
		}
		last = page
		if page.NextOffset == 0 {
			break
		}
		req.Offset = page.NextOffset
	}
	paging := time.Since(start)
	if len(seen) != n || last.Failed != wantFailed || !last.Complete {
		t.Fatalf("paged %d nodes, %d failed, complete %v; want %d, %d failed, complete", len(seen), last.Failed, last.Complete, n, wantFailed)
	}
	t.Logf("rpc step at %d nodes: run %s in %s (step %s), record %d bytes, %d pages of runs.nodes in %s (%.1f ms a page)",
		n, r.Status, wall.Round(time.Millisecond), step.EndedAt.Sub(step.StartedAt).Round(time.Millisecond), raw,
		pages, paging.Round(time.Millisecond), float64(paging.Microseconds())/float64(pages)/1000)
}
