package faults

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

// W8: every acknowledgement of a run's jobs is lost. A stand-in worker holds each job (creates
// its attempt record, as every worker does first), stores its result (without running the step)
// and never acknowledges, as when the server restarts at that moment.
// The run succeeds, and a run whose every job was answered ends without purging the queue, so its
// jobs come back after AckWait, to a real worker process: it must find each result (kept as long
// as the run) and acknowledge the job without running it. 0 effects; the queue drains.
func TestW8LostAcksOfAFinishedRun(t *testing.T) {
	t.Parallel()
	const steps = 3
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	_, js := natstest.Connect(t, srv.ClientURL())
	var cons jetstream.Consumer
	natstest.Eventually(t, readiness, func() (err error) {
		// The pool's consumer as the workers make it, with an AckWait no redelivery fits in.
		cons, err = js.CreateOrUpdateConsumer(t.Context(), protocol.JobsStreamName, jetstream.ConsumerConfig{
			Durable: protocol.JobsConsumer(protocol.DefaultPool), AckPolicy: jetstream.AckExplicitPolicy,
			FilterSubject: fmt.Sprintf(protocol.JobsPoolWildcardPattern, protocol.DefaultPool),
			AckWait:       time.Hour, MaxDeliver: -1, MaxAckPending: 10000,
		})
		return err
	})
	attempts, err := kvstore.OpenAttempts(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	lossy, stopLossy := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for lossy.Err() == nil {
			m, err := cons.Next(jetstream.FetchMaxWait(200 * time.Millisecond))
			if err != nil {
				continue
			}
			var job protocol.Job
			if err := json.Unmarshal(m.Data(), &job); err != nil {
				t.Errorf("bad job: %v", err)
				return
			}
			if _, err := attempts.Start(lossy, job.ID, protocol.Attempt{Worker: "lossy", Token: "lossy", Starts: 1}); err != nil && lossy.Err() == nil {
				t.Errorf("hold job %s: %v", job.ID, err)
				return
			}
			res := protocol.Result{Version: protocol.JobVersion, ID: job.ID, Worker: "lossy", Token: job.ResultToken,
				Success: true, Msg: "answered by the stand-in"}
			body, _ := protocol.EncodeResult(&res)
			if _, err := js.Publish(lossy, protocol.ResultSubject(job.ID), body, jetstream.WithMsgID(job.ID.String())); err != nil && lossy.Err() == nil {
				t.Errorf("publish result: %v", err)
			}
		}
	}()

	id := r.mustSubmit(book(steps, "true"), nil)
	if rep := r.waitFinal([]string{id}, time.Minute)[id]; rep.Status != protocol.StatusSuccess {
		t.Fatalf("run %s: %s", rep.Status, rep.Error)
	}
	stopLossy()
	<-done
	if n := queued(t, js, id); n != steps {
		t.Fatalf("%d jobs of the run in the queue, want the %d whose acks were lost: the row proves nothing", n, steps)
	}

	r.worker("w1")
	start := time.Now()
	natstest.Eventually(t, 2*time.Minute, func() error {
		if n := queued(t, js, id); n != 0 {
			return fmt.Errorf("%d jobs of the finished run still in the queue", n)
		}
		return nil
	})
	drained := since(start)
	es := readLedger(t, r.ledger)
	ran := 0
	for s := 1; s <= steps; s++ {
		if n := count(es, "start", id, s); n != 0 {
			ran += n
			t.Errorf("step %d of the finished run ran %d times when its job came back", s, n)
		}
	}
	// Acknowledged on sight of their results, not after waiting out the stand-in's hold and
	// taking the jobs over: nobody touched the records since.
	for s := 1; s <= steps; s++ {
		jid := protocol.JobID{RunID: id, Step: s, Attempt: 1}
		if rec, err := attempts.Get(t.Context(), jid); err != nil || rec.Worker != "lossy" || rec.Starts != 1 {
			t.Errorf("attempt record of %s after the drain: %+v, %v; want the stand-in's, started once", jid, rec, err)
		}
	}
	t.Logf("ROW W8: %d jobs of a finished run came back and were acknowledged %s after a worker started; steps run again: %d", steps, drained, ran)
}

// queued is how many jobs of run id the jobs stream holds.
func queued(t *testing.T, js jetstream.JetStream, id string) int {
	return natstest.Messages(t, js, protocol.JobsStreamName, fmt.Sprintf(protocol.JobsRunWildcardPattern, id))
}
