package coordinator

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
)

// slowStoreScript is a shell data store whose reads stall while a marker file exists: it holds
// the driver between a step's result and the next step's first write, the window in which the
// step's end is staged but not stored.
const slowStoreScript = `#!/bin/sh
while [ -e "$MARKER" ]; do sleep 0.05; done
echo alfa
`

// A coordinator dies after a worker's result ended a step but before the next write stored that
// end: the coordinator taking over finds the result in the results stream and applies it, and
// the step does not run again. Each event is counted once, by the coordinator whose write stored
// it: a counts the start only (its claim was stored), b the two step ends and the finish.
func TestStagedStepEndSurvivesTakeover(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	dir := t.TempDir()
	marker, script := filepath.Join(dir, "stall"), filepath.Join(dir, "store.sh")
	if err := os.WriteFile(script, []byte(slowStoreScript), 0o755); err != nil {
		t.Fatal(err)
	}
	ma, mb := newMetrics(t), newMetrics(t)
	killA := e.startCoordinator("a", WithMetrics(ma))
	w := e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if job.ID.Step == 1 {
			// The next refresh of the store-bound input stalls until the test lets it go.
			if err := os.WriteFile(marker, nil, 0o644); err != nil {
				t.Error(err)
			}
		}
		return succeed(job)
	})
	doc := header + "data_stores:\n  ds:\n    type: shell\n    command: " + script +
		"\n    environment:\n      MARKER: " + marker + "\n" +
		"inputs:\n  tier:\n    type: String\n    description: t\n    data: ds/tier\n" +
		"tasks:\n" + shell("one") + shell("two")
	id := e.submit(doc, nil)

	runs := mustRuns(t, e)
	natstest.Eventually(t, 10*time.Second, func() error {
		if w.executions()[protocol.JobID{RunID: id, Step: 1, Attempt: 1}] == 0 {
			return errNotYet
		}
		return nil
	})
	// Give a to receive the result and stall in the store read, then check the window is real:
	// step 1 has its result, yet the stored record still shows it running.
	time.Sleep(300 * time.Millisecond)
	rec, _, err := runs.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Steps) != 1 || rec.Steps[0].Done || rec.Steps[0].Job == nil {
		t.Fatalf("expected step 1 in flight in the stored record, got %+v", rec.Steps)
	}
	killA()
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	e.startCoordinator("b", WithMetrics(mb))

	r := e.waitFinal(id, 20*time.Second)
	if r.Status != protocol.StatusSuccess || len(r.Tasks) != 2 {
		t.Fatalf("status %s, %d tasks: %s", r.Status, len(r.Tasks), r.Error)
	}
	if r.Tasks[0].Msg != "Command completed successfully" {
		t.Errorf("step 1 msg %q, want the worker's", r.Tasks[0].Msg)
	}
	w.ranEachOnce(t, 2)
	natstest.Eventually(t, 20*time.Second, func() error { return countedOnce(t, mb, metrics.RunsFinished, 1) })
	for _, c := range []struct {
		m      *metrics.Metrics
		who    string
		name   string
		counts float64
	}{
		{ma, "a", metrics.RunsStarted, 1}, {ma, "a", metrics.StepDuration, 0}, {ma, "a", metrics.RunsFinished, 0},
		{mb, "b", metrics.RunsStarted, 0}, {mb, "b", metrics.StepDuration, 2}, {mb, "b", metrics.RunsFinished, 1},
	} {
		if err := countedOnce(t, c.m, c.name, c.counts); err != nil {
			t.Errorf("coordinator %s: %v", c.who, err)
		}
	}
}

// Two coordinators hold the same run message (the first paused past its lease, say). Their claims
// are staged, so both start; only the first write lands, and the other coordinator stops at its
// own first write without publishing anything.
func TestStagedClaimFencesSecondClaimant(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	w := e.startTestWorker(succeed)
	ctx := context.Background()
	// The late claimant accepts the run (nothing drives it: its Run loop is not started) and
	// reads the record, as its claim would.
	c, err := New(e.nc, WithName("late"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.open(ctx); err != nil {
		t.Fatal(err)
	}
	resp, apiErr := c.submit(ctx, protocol.SubmitRequest{Version: protocol.SubmitVersion,
		Playbook: header + "tasks:\n" + shell("one") + shell("two"), IdempotencyKey: t.Name()}, protocol.Identity{Name: protocol.UnsignedIdentity})
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	id := resp.RunID
	runs := mustRuns(t, e)
	rec, rev, err := runs.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	late := &driver{c: c, log: c.opts.log, rec: rec, rev: rev, dispatched: map[protocol.JobID]bool{}}
	late.epoch, late.runMessage, late.claimStaged = rec.Epoch+1, 1, true
	late.stage(func(r *protocol.RunRecord) { r.Owner, r.Epoch, r.RunMessage = "late", late.epoch, 1 })

	// The real coordinator claims and finishes the run meanwhile.
	e.startCoordinator("a")
	if r := e.waitFinal(id, 10*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("status %s: %s", r.Status, r.Error)
	}
	if err := late.update(ctx, func(r *protocol.RunRecord) { r.Error = "written by the late claimant" }); err != ErrLostOwnership {
		t.Fatalf("late claimant's first write: %v, want ErrLostOwnership", err)
	}
	rec, _, _ = runs.Get(ctx, id)
	if rec.Owner != "a" || rec.Error != "" {
		t.Errorf("late claimant changed the run: owner %s error %q", rec.Owner, rec.Error)
	}
	if n := len(w.executions()); n != 2 {
		t.Errorf("%d jobs ran, want 2", n)
	}
}
