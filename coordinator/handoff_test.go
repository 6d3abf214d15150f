package coordinator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// TestHandoffsTakeOnceAndForget checks that a handoff is taken once, not after handoffTTL, and
// that the oldest go first once maxHandoffs wait.
func TestHandoffsTakeOnceAndForget(t *testing.T) {
	var h handoffs
	now := time.Now()
	h.put(&protocol.RunRecord{ID: "a"}, 3, nil, now)
	if e, ok := h.take("a", now); !ok || e.rev != 3 || e.rec.ID != "a" {
		t.Fatalf("take a: %+v, %v", e, ok)
	}
	if _, ok := h.take("a", now); ok {
		t.Fatal("a handoff was taken twice")
	}
	h.put(&protocol.RunRecord{ID: "old"}, 1, nil, now.Add(-handoffTTL-time.Second))
	if _, ok := h.take("old", now); ok {
		t.Fatal("a handoff older than handoffTTL was taken")
	}
	for i := range maxHandoffs + 10 {
		h.put(&protocol.RunRecord{ID: fmt.Sprint(i)}, uint64(i+1), nil, now)
	}
	if n := h.len(); n != maxHandoffs {
		t.Fatalf("%d handoffs wait, want at most %d", n, maxHandoffs)
	}
	if _, ok := h.take("0", now); ok {
		t.Fatal("the oldest handoff was kept past maxHandoffs")
	}
	if e, ok := h.take(fmt.Sprint(maxHandoffs+9), now); !ok || e.rev != maxHandoffs+10 {
		t.Fatal("the newest handoff is gone")
	}
	// The documents they hold are bounded too.
	var b handoffs
	big := string(make([]byte, maxHandoffBytes/3))
	for i := range 4 {
		b.put(&protocol.RunRecord{ID: fmt.Sprint(i), Document: big}, 1, nil, now)
	}
	if b.len() != 3 || b.bytes != 3*len(big) {
		t.Fatalf("%d handoffs of %d bytes wait, want 3 of %d", b.len(), b.bytes, 3*len(big))
	}
	if _, ok := b.take("0", now); ok {
		t.Fatal("the oldest handoff was kept past maxHandoffBytes")
	}
	if _, ok := b.take("3", now); !ok || b.bytes != 2*len(big) {
		t.Fatalf("take left %d bytes counted, want %d", b.bytes, 2*len(big))
	}
	b.put(&protocol.RunRecord{ID: "huge", Document: string(make([]byte, maxHandoffBytes+1))}, 1, nil, now)
	if _, ok := b.take("huge", now); ok {
		t.Fatal("a handoff larger than maxHandoffBytes was kept")
	}
	// Expired ones go when new ones come, without waiting for the bound.
	var g handoffs
	g.put(&protocol.RunRecord{ID: "x"}, 1, nil, now)
	g.put(&protocol.RunRecord{ID: "y"}, 1, nil, now.Add(handoffTTL+time.Second))
	if g.len() != 1 {
		t.Fatalf("%d handoffs wait, want the expired one gone", g.len())
	}
}

// handoffEnv is a coordinator whose counters the test reads, ready, and a worker answering every
// job with success.
func handoffEnv(t *testing.T) (*env, *Coordinator, *testWorker) {
	e := newEnv(t, kvstore.Config{})
	nc, _ := natstest.Connect(t, e.url)
	c := e.runCoordinatorOn(nc, WithName("c1"), WithLease(time.Second), WithReconcile(200*time.Millisecond))
	w := e.startTestWorker(func(*protocol.Job) protocol.Result { return protocol.Result{Success: true, Msg: "ok"} })
	natstest.Eventually(t, 10*time.Second, func() error { return c.Ready(context.Background()) })
	return e, c, w
}

// TestClaimTakesItsSubmitsHandoff checks that a run submitted and claimed by one coordinator is
// claimed from the submit's handoff, and runs as from a record read.
func TestClaimTakesItsSubmitsHandoff(t *testing.T) {
	e, c, w := handoffEnv(t)
	id := e.submit(header+"tasks:\n  - noop: {}\n  - noop: {}\n", nil)
	if r := e.waitFinal(id, 30*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	w.ranEachOnce(t, 2)
	if n := c.claimsHandedOff.Load(); n != 1 {
		t.Fatalf("%d claims took a handoff, want 1", n)
	}
	if n := c.handoffs.len(); n != 0 {
		t.Fatalf("%d handoffs left after the claim", n)
	}
}

// TestStaleHandoffReadsTheRecordAgain checks that a handoff the record moved past (here: a
// cancellation stored between submit and claim) changes nothing: the claim's first write fails
// its compare-and-set, the record is read again, and the run ends cancelled without running a
// job.
func TestStaleHandoffReadsTheRecordAgain(t *testing.T) {
	e, c, w := handoffEnv(t)
	ctx := context.Background()

	doc := header + "tasks:\n  - noop: {}\n"
	pb, err := playbooks.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	rec := &protocol.RunRecord{Version: protocol.RunVersion, ID: newRunID(), Playbook: protocol.PlaybookRef{Name: pb.Name, Version: pb.Version},
		Document: doc, Inputs: map[string]any{}, IdempotencyKey: t.Name(), Status: protocol.StatusPending, CreatedAt: time.Now().UTC()}
	rev, cp, err := c.runs.CreateCopy(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	c.handoffs.put(cp, rev, pb, time.Now())
	rec.CancelRequested, rec.CancelReason = true, "changed after submit"
	if _, err := c.runs.Update(ctx, rec, rev); err != nil {
		t.Fatal(err)
	}
	if err := c.publishRun(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	r := e.waitFinal(rec.ID, 30*time.Second)
	if r.Status != protocol.StatusCancelled {
		t.Fatalf("run %s (%s), want cancelled", r.Status, r.Error)
	}
	if n := c.claimsHandedOff.Load(); n != 1 {
		t.Fatalf("%d claims took a handoff, want 1", n)
	}
	if got := w.executions(); len(got) != 0 {
		t.Fatalf("jobs ran for a run cancelled before its claim: %v", got)
	}
}

// TestCreateCopyIsWhatGetReads checks that CreateCopy gives what Get reads of a just-created
// record, for a playbook kept inline and one kept in a part, and that it shares no map with rec.
func TestCreateCopyIsWhatGetReads(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	ctx := context.Background()
	runs, err := kvstore.OpenRuns(ctx, e.js)
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{"inline": header, "part": header + "# " + fmt.Sprintf("%020000d", 0) + "\n"} {
		t.Run(name, func(t *testing.T) {
			rec := &protocol.RunRecord{Version: protocol.RunVersion, ID: newRunID(), Document: doc, Status: protocol.StatusPending,
				Inputs: map[string]any{"n": 3, "s": "x"}, Files: map[string]string{"a.yaml": "b"}, CreatedAt: time.Now().UTC()}
			rev, cp, err := runs.CreateCopy(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			got, grev, err := runs.Get(ctx, rec.ID)
			if err != nil || grev != rev {
				t.Fatalf("get: rev %d, %v", grev, err)
			}
			a, _ := got.MarshalJSON()
			b, _ := cp.MarshalJSON()
			if string(a) != string(b) || got.Document != cp.Document || len(cp.Files) != 1 || cp.Inputs["n"] != float64(3) {
				t.Fatalf("copy %s\nread %s", b, a)
			}
			if name == "part" && cp.DocumentPart == "" {
				t.Fatal("the large playbook was not kept in a part")
			}
			cp.Inputs["n"], cp.Files["a.yaml"] = "changed", "changed"
			if rec.Inputs["n"] != 3 || rec.Files["a.yaml"] != "b" {
				t.Fatal("the copy shares a map with the record")
			}
		})
	}
}
