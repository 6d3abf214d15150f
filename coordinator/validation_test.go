package coordinator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// TestTemplatedBatchSize: a batch_size rendered at run time (from an input read from a data
// store) batches as its value says, and one that renders to -7 fails the step naming
// rpc.batch_size before any job is sent, instead of silently meaning "no batching".
func TestTemplatedBatchSize(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1", WithRPCChunk(100))
	w := e.startTestWorker(func(job *protocol.Job) protocol.Result {
		res := protocol.Result{Success: true, Nodes: map[string]protocol.NodeResult{}}
		for _, n := range job.Targets {
			res.Nodes[n] = protocol.NodeResult{Success: true}
		}
		return res
	})
	kv, err := e.js.KeyValue(context.Background(), protocol.DataBucket)
	if err != nil {
		t.Fatal(err)
	}
	doc := header + "data_stores:\n  ds: {type: kv}\ninputs:\n  size: {type: Integer, data: ds/size}\n" +
		"tasks:\n  - rpc:\n      action: appmgr.status\n      nodes: " + nodeList(7) + "\n      batch_size: \"{{ inputs.size }}\"\n"

	if _, err := kv.Put(context.Background(), "size", []byte(`3`)); err != nil {
		t.Fatal(err)
	}
	r := e.waitFinal(e.submit(doc, nil), 30*time.Second)
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("batch_size 3: %s: %s", r.Status, r.Error)
	}
	if jobs := len(w.executions()); jobs != 3 {
		t.Errorf("batch_size 3 over 7 nodes sent %d jobs, want 3", jobs)
	}

	if _, err := kv.Put(context.Background(), "size", []byte(`-7`)); err != nil {
		t.Fatal(err)
	}
	r = e.waitFinal(e.submit(doc, nil), 30*time.Second)
	if r.Status != protocol.StatusFailed || len(r.Tasks) != 1 || !strings.Contains(r.Tasks[0].Msg, "rpc.batch_size: must be at least 1, got -7") {
		t.Fatalf("batch_size -7: %s: %+v", r.Status, r.Tasks)
	}
	if jobs := len(w.executions()); jobs != 3 {
		t.Errorf("the refused step sent %d jobs", jobs-3)
	}
}

// TestNegativeRunTimeoutRefused: a submission with a negative timeout is refused as a bad
// request naming the timeout, not accepted as "no deadline".
func TestNegativeRunTimeoutRefused(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.client.Submit(ctx, protocol.SubmitRequest{Playbook: header + "tasks:\n  - log: {message: x}\n", IdempotencyKey: "k", Timeout: -5 * time.Second})
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeBadRequest || !strings.Contains(apiErr.Message, "timeout must not be negative") {
		t.Fatalf("got %v", err)
	}
}
