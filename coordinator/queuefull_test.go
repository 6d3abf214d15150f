package coordinator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// A submit into a full run queue is refused with QUEUE_FULL and leaves nothing behind: no run
// record, and the idempotency key is free again. Runs accepted before are untouched, and once a
// run ends the same submission is accepted as a new run.
func TestSubmitIntoFullQueueIsRefusedCleanly(t *testing.T) {
	store := kvstore.Config{MaxRuns: 2}
	e := newEnv(t, store)
	e.startCoordinator("c1", WithStore(store))
	// No worker: the accepted runs hold their run messages until they are cancelled.
	doc := header + "tasks:\n" + shell("wait")
	first := e.submit(doc, nil)
	second := e.submit(doc, nil)

	ctx := context.Background()
	req := protocol.SubmitRequest{Version: protocol.SubmitVersion, Playbook: doc, IdempotencyKey: "third"}
	_, err := e.client.Submit(ctx, req)
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeQueueFull || apiErr.Refused() {
		t.Fatalf("want a QUEUE_FULL infrastructure error, got %v", err)
	}
	recs, err := e.client.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Errorf("%d runs stored, want the 2 accepted ones: %+v", len(recs), recs)
	}

	if _, err := e.client.Cancel(ctx, first, "make room"); err != nil {
		t.Fatal(err)
	}
	if r := e.waitFinal(first, 10*time.Second); r.Status != protocol.StatusCancelled {
		t.Fatalf("cancelled run ended %s", r.Status)
	}
	resp, err := e.client.Submit(ctx, req)
	if err != nil {
		t.Fatalf("resubmit after room was made: %v", err)
	}
	if resp.Duplicate || resp.RunID == first || resp.RunID == second {
		t.Errorf("resubmission gave %+v, want a new run", resp)
	}
	if r, err := e.client.Get(ctx, second); err != nil || r.Status.Final() {
		t.Errorf("accepted run %s: %v %v", second, r, err)
	}
}
