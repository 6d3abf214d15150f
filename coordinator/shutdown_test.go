package coordinator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// A coordinator stopped the moment a run ends (a one-shot `run --embedded` stops it as soon as
// it sees run_finished) still finishes the run: its results are purged and its run message is
// acknowledged, so the next coordinator does not drive the finished run again.
func TestStoppedAsRunEndsFinishesIt(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	nc, _ := natstest.Connect(t, e.url)
	a, err := New(nc, WithName("a"), WithLease(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sub, err := e.nc.Subscribe(protocol.EventsSubjectWildcard, func(m *nats.Msg) {
		if evs, err := protocol.DecodeEvents(m.Data); err == nil && evs[len(evs)-1].Type == protocol.EventRunFinished {
			stop()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = a.Run(ctx) }()
	e.startTestWorker(succeed)
	id := e.submit(header+"tasks:\n"+shell("one"), nil)
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the coordinator did not stop within 30 s of the run's end")
	}
	// Read from the store: no coordinator answers the API now.
	runs, err := kvstore.OpenRuns(t.Context(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	if rec, _, err := runs.Get(t.Context(), id); err != nil || rec.Status != protocol.StatusSuccess {
		t.Fatalf("run %s: %v %v", id, rec, err)
	}
	cons, err := e.js.Consumer(t.Context(), protocol.RunsStreamName, protocol.RunsConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		t.Errorf("run message left behind: %d pending, %d delivered and not acknowledged", info.NumPending, info.NumAckPending)
	}
	// The run's one result stays: it is the step's outcome runs.nodes pages, pruned with the run.
	if n := natstest.Messages(t, e.js, protocol.ResultsStreamName, fmt.Sprintf(protocol.ResultsRunWildcardPattern, id)); n != 1 {
		t.Errorf("%d result subjects of the finished run, want its one job's", n)
	}
}
