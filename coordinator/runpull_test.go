package coordinator

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// The long-lived pull of run messages survives the loss of its consumer: the coordinator creates
// it again and drives the runs submitted afterwards.
func TestRunsPulledAfterConsumerDeleted(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("a")
	e.startTestWorker(succeed)
	if r := e.waitFinal(e.submit(header+"tasks:\n"+shell("one"), nil), 10*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("first run: %s", r.Status)
	}
	if err := e.js.DeleteConsumer(context.Background(), protocol.RunsStreamName, protocol.RunsConsumerName); err != nil {
		t.Fatal(err)
	}
	if r := e.waitFinal(e.submit(header+"tasks:\n"+shell("two"), nil), 20*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("run after the consumer was deleted: %s", r.Status)
	}
}

// A coordinator that stops hands back at once the run messages it pulled ahead (and the run it
// was driving): another coordinator drives them without waiting for the lease to run out.
func TestStoppingCoordinatorHandsRunsBack(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	nc, _ := natstest.Connect(t, e.url)
	a, err := New(nc, WithName("a"), WithMaxRuns(1), WithLease(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = a.Run(ctx) }()

	release := make(chan struct{})
	var started atomic.Int32
	e.startTestWorker(blockOn(release, &started))
	ids := []string{
		e.submit(header+"tasks:\n  - shell:\n      command: block\n", nil),
		e.submit(header+"tasks:\n"+shell("two"), nil),
		e.submit(header+"tasks:\n"+shell("three"), nil),
	}
	natstest.Eventually(t, 10*time.Second, func() error {
		if started.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	stop()
	<-stopped
	close(release)

	e.startCoordinator("b", WithLease(time.Minute))
	for _, id := range ids {
		if r := e.waitFinal(id, 15*time.Second); r.Status != protocol.StatusSuccess {
			t.Errorf("run %s: %s %s", id, r.Status, r.Error)
		}
	}
}

// Run messages are claimed as they arrive, three batches' worth and more, also by a request left
// open on an idle queue, and a stopping coordinator returns at once: nothing waits for a pull
// request to expire or to fall silent. The expiry is a minute here, so a pull that waited for it could not finish
// within the deadlines (the old Fetch loop sat out its last request at every shutdown).
func TestRunPullNeverWaitsForExpiry(t *testing.T) {
	saved := runPullExpiry
	runPullExpiry = time.Minute
	t.Cleanup(func() { runPullExpiry = saved }) // registered first: runs after the coordinators stopped

	e := newEnv(t, kvstore.Config{})
	nc, _ := natstest.Connect(t, e.url)
	a, err := New(nc, WithName("a"), WithMaxRuns(4*runPrefetch), WithLease(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = a.Run(ctx) }()
	t.Cleanup(func() { stop(); <-stopped })
	e.startTestWorker(succeed)

	var ids []string
	for i := range 3*runPrefetch + 1 {
		ids = append(ids, e.submit(header+"tasks:\n"+shell(fmt.Sprintf("run%d", i)), nil))
	}
	for _, id := range ids {
		if r := e.waitFinal(id, 30*time.Second); r.Status != protocol.StatusSuccess {
			t.Fatalf("run %s: %s %s", id, r.Status, r.Error)
		}
	}
	// The queue is empty now and a request partly filled is open: a run submitted to it is
	// delivered by it.
	if r := e.waitFinal(e.submit(header+"tasks:\n"+shell("late"), nil), 30*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("run submitted to an idle coordinator: %s %s", r.Status, r.Error)
	}
	// Each batch ended when it was full, or by the server's word: none was waited out.
	if n := a.runPullsSilent.Load(); n != 0 {
		t.Errorf("%d pull requests were given up for silence on a healthy server", n)
	}
	stop()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the coordinator is still stopping after 30 s: it waits for its pull request to expire")
	}
}

// An idle coordinator's pull requests end by the server's word (408, expired) and the next one
// goes out: none is given up for silence, which would mean the end was not understood.
func TestIdleRunPullsEndByExpiry(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	nc, _ := natstest.Connect(t, e.url)
	a, err := New(nc, WithName("a"), WithLease(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = a.Run(ctx) }()
	t.Cleanup(func() { stop(); <-stopped })
	natstest.Eventually(t, 30*time.Second, func() error {
		if a.runPulls.Load() < 3 {
			return errNotYet
		}
		return nil
	})
	if n := a.runPullsSilent.Load(); n != 0 {
		t.Errorf("%d of %d pull requests of an idle coordinator were given up for silence", n, a.runPulls.Load())
	}
}
