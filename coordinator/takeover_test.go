package coordinator

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// A coordinator dies (connection gone, nothing acknowledged) while its run's job is being
// executed; another coordinator takes the run over after the lease and finishes it, and no job
// runs twice.
func TestTakeoverAfterCoordinatorDies(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	killA := e.startCoordinator("a")
	release := make(chan struct{})
	var started atomic.Int32
	w := e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if job.ID.Step == 2 {
			started.Add(1)
			<-release
		}
		return succeed(job)
	})
	id := e.submit(header+"tasks:\n"+shell("one")+shell("two")+shell("three"), nil)
	natstest.Eventually(t, 10*time.Second, func() error {
		if started.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	killA()
	e.startCoordinator("b")
	close(release)
	r := e.waitFinal(id, 20*time.Second)
	if r.Status != protocol.StatusSuccess || len(r.Tasks) != 3 {
		t.Fatalf("status %s tasks %d: %s", r.Status, len(r.Tasks), r.Error)
	}
	w.ranEachOnce(t, 3)
	rec, _, err := mustRuns(t, e).Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Owner != "b" || rec.Epoch != 2 {
		t.Errorf("owner %s epoch %d, want b 2", rec.Owner, rec.Epoch)
	}
}

// A coordinator that lost its run (its record moved on under a new epoch) stops at its next write
// and leaves the run to the new owner.
func TestStaleOwnerStops(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("a", WithLease(time.Minute))
	hold := make(chan struct{})
	w := e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if job.ID.Step == 1 {
			<-hold
		}
		return succeed(job)
	})
	id := e.submit(header+"tasks:\n"+shell("one")+shell("two"), nil)
	runs := mustRuns(t, e)
	natstest.Eventually(t, 10*time.Second, func() error {
		rec, _, err := runs.Get(context.Background(), id)
		if err != nil || rec.Owner != "a" || len(rec.Steps) == 0 || rec.Steps[0].Job == nil {
			return errNotYet
		}
		return nil
	})
	// Somebody else claims the run, as a coordinator that got the redelivered message would.
	rec, rev, _ := runs.Get(context.Background(), id)
	rec.Owner, rec.Epoch = "usurper", rec.Epoch+1
	if _, err := runs.Update(context.Background(), rec, rev); err != nil {
		t.Fatal(err)
	}
	close(hold)
	// a must not advance the run: step 2 never gets dispatched.
	time.Sleep(time.Second)
	rec, _, _ = runs.Get(context.Background(), id)
	if rec.Owner != "usurper" || len(rec.Steps) != 1 || rec.Steps[0].Done {
		t.Errorf("stale owner wrote to the run: owner %s steps %d", rec.Owner, len(rec.Steps))
	}
	if n := len(w.executions()); n != 1 {
		t.Errorf("%d jobs ran, want 1", n)
	}
}

func mustRuns(t *testing.T, e *env) *kvstore.Runs {
	t.Helper()
	runs, err := kvstore.OpenRuns(context.Background(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// A run message read before its record is visible (on a clustered bucket, a read may be served
// by a replica that has not caught up) is looked at again, not dropped: the run starts once the
// record is there.
func TestRunMessageBeforeItsRecordIsVisible(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(succeed)
	ctx := context.Background()
	id := newRunID()
	body, _ := json.Marshal(runMessage{Version: protocol.RunVersion, RunID: id})
	if _, err := e.js.Publish(ctx, protocol.RunSubject(id), body, jetstream.WithMsgID(id)); err != nil {
		t.Fatal(err)
	}
	// The coordinator has had the message (and found no record) before the record is stored.
	natstest.Eventually(t, 20*time.Second, func() error {
		cons, err := e.js.Consumer(ctx, protocol.RunsStreamName, protocol.RunsConsumerName)
		if err != nil {
			return err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.Delivered.Stream == 0 {
			return errNotYet
		}
		return nil
	})
	doc := header + "tasks:\n" + shell("echo late record")
	rec := &protocol.RunRecord{Version: protocol.RunVersion, ID: id, Playbook: protocol.PlaybookRef{Name: "flow", Version: "1.0.0"},
		Document: doc, Status: protocol.StatusPending, CreatedAt: time.Now().UTC()}
	if _, err := mustRuns(t, e).Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if r := e.waitFinal(id, 30*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
}
