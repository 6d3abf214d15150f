package coordinator

import (
	"context"
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
