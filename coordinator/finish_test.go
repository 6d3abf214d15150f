package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// A worker whose acknowledgements are all lost (it stores every result, then its acks vanish, as
// when the server restarts at that moment) leaves its jobs in the queue, to come back after
// AckWait. Once the run ends its results and attempt records are dropped, so such a job coming
// back could no longer be told done: the finished run's jobs are removed from the queue first.
func TestFinishedRunLeavesNoJobToComeBack(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	cons, err := e.js.CreateOrUpdateConsumer(t.Context(), protocol.JobsStreamName, jetstream.ConsumerConfig{
		Durable: protocol.JobsConsumer(protocol.DefaultPool), AckPolicy: jetstream.AckExplicitPolicy,
		FilterSubject: "fleetbook.jobs.default.>", AckWait: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			m, err := cons.Next(jetstream.FetchMaxWait(200 * time.Millisecond))
			if err != nil {
				continue
			}
			var job protocol.Job
			if err := json.Unmarshal(m.Data(), &job); err != nil {
				t.Errorf("bad job: %v", err)
				return
			}
			body, _ := json.Marshal(protocol.Result{Version: protocol.JobVersion, ID: job.ID, Worker: "lossy", Success: true})
			if _, err := e.js.Publish(ctx, protocol.ResultSubject(job.ID), body, jetstream.WithMsgID(job.ID.String())); err != nil && ctx.Err() == nil {
				t.Errorf("publish result: %v", err)
			}
			// No acknowledgement: it was lost.
		}
	}()

	id := e.submit(header+"tasks:\n  - shell:\n      command: one\n  - shell:\n      command: two\n", nil)
	if rep := e.waitFinal(id, 30*time.Second); rep.Status != protocol.StatusSuccess {
		t.Fatalf("run %s: %s", rep.Status, rep.Error)
	}
	jobs, err := e.js.Stream(t.Context(), protocol.JobsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 30*time.Second, func() error {
		info, err := jobs.Info(t.Context(), jetstream.WithSubjectFilter(fmt.Sprintf(protocol.JobsRunWildcardPattern, id)))
		if err != nil {
			return err
		}
		if n := len(info.State.Subjects); n != 0 {
			return fmt.Errorf("%d jobs of the finished run still in the queue, to come back after AckWait", n)
		}
		return nil
	})
}
