package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// recordStart writes job id's attempt record as a worker that started it would.
func recordStart(t *testing.T, js jetstream.JetStream, id protocol.JobID, att protocol.Attempt) (*kvstore.Attempts, uint64) {
	t.Helper()
	attempts, err := kvstore.OpenAttempts(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := attempts.Start(t.Context(), id, att)
	if err != nil {
		t.Fatalf("record start of %s: %v", id, err)
	}
	return attempts, rev
}

// publishResult stores a result of job id as its holder would.
func publishResult(t *testing.T, js jetstream.JetStream, res protocol.Result) {
	t.Helper()
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), protocol.ResultSubject(res.ID), data, jetstream.WithMsgID(res.ID.String())); err != nil {
		t.Fatal(err)
	}
}

// A job whose holder is alive — it renews its attempt record, as its heartbeat does — is never
// run by a worker it is delivered to again, however long the holder takes and however often the
// job comes back; once the holder's result is stored, the job is acknowledged without running.
func TestRedeliveredJobNeverRunsBesideALiveHolder(t *testing.T) {
	nc, js := setup(t)
	w := newWorker(t, nc, WithAckWait(200*time.Millisecond))
	// A takeover after 1.5 s of silence; the holder renews every 50 ms, and the job comes back
	// for longer than the takeover wait, so a worker ignoring the renewals would run it.
	w.opts.staleFloor = 1500 * time.Millisecond

	job, effects := countingJob(t)
	holder := protocol.Attempt{Worker: "holder", Token: "h", Starts: 1}
	attempts, rev := recordStart(t, js, job.ID, holder)
	publishJob(t, js, job)
	// The pool's consumer exists before the worker starts, for the test to watch it.
	cons, err := js.CreateOrUpdateConsumer(t.Context(), protocol.JobsStreamName, w.consumerConfig())
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	renewed := make(chan int, 1)
	go func() {
		n := 0
		defer func() { renewed <- n }()
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			next, err := attempts.Update(ctx, job.ID, holder, rev)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("the holder lost its record: %v", err)
				}
				return
			}
			rev, n = next, n+1
		}
	}()
	start(t, w)

	// The job comes back every AckWait while the holder works on it; let it come back often.
	natstest.Eventually(t, wait, func() error {
		info, err := cons.Info(t.Context())
		if err != nil {
			return err
		}
		if info.NumRedelivered < 1 || info.Delivered.Consumer < 20 {
			return fmt.Errorf("delivered %d times so far", info.Delivered.Consumer)
		}
		return nil
	})
	cancel()
	if n := <-renewed; n < 3 {
		t.Fatalf("the holder renewed its record %d times", n)
	}
	if n := lines(t, effects); n != 0 {
		t.Fatalf("the job ran %d times beside its live holder", n)
	}

	publishResult(t, js, protocol.Result{Version: protocol.JobVersion, ID: job.ID, Worker: "holder", Success: true, Msg: "done by the holder"})
	waitJobsEmpty(t, js)
	if n := lines(t, effects); n != 0 {
		t.Errorf("the job ran %d times after its holder answered", n)
	}
}

// A job whose holder went silent (its record unchanged for the takeover wait) is taken over and
// run once; the silent holder's next renewal fails, so it can no longer compete.
func TestSilentHoldersJobIsTakenOverOnce(t *testing.T) {
	nc, js := setup(t)
	w := newWorker(t, nc, WithAckWait(200*time.Millisecond))
	w.opts.staleFloor = 0

	job, effects := countingJob(t)
	dead := protocol.Attempt{Worker: "dead", Token: "d", Starts: 1}
	attempts, rev := recordStart(t, js, job.ID, dead)
	publishJob(t, js, job)
	start(t, w)

	res := waitResult(t, js, job.ID)
	if !res.Success || res.Worker != w.Name() {
		t.Fatalf("result: %+v", res)
	}
	waitJobsEmpty(t, js)
	if n := lines(t, effects); n != 1 {
		t.Errorf("the job ran %d times, want 1", n)
	}
	rec, err := attempts.Get(t.Context(), job.ID)
	if err != nil || rec.Worker != w.Name() || rec.Starts != 2 {
		t.Fatalf("attempt record after the takeover: %+v, %v", rec, err)
	}
	if _, err := attempts.Update(t.Context(), job.ID, dead, rev); !errors.Is(err, kvstore.ErrConflict) {
		t.Errorf("the silent holder could still renew its record: %v", err)
	}
}

// A job its holder handed back (released) is taken over at once: within AckWait, far inside the
// takeover wait.
func TestReleasedJobIsTakenOverAtOnce(t *testing.T) {
	nc, js := setup(t)
	w := newWorker(t, nc, WithAckWait(time.Minute)) // a takeover of a silent holder takes 3 minutes

	job, effects := countingJob(t)
	recordStart(t, js, job.ID, protocol.Attempt{Worker: "gone", Token: "g", Starts: 1, Released: true})
	publishJob(t, js, job)
	start(t, w)

	if res := waitResult(t, js, job.ID); !res.Success {
		t.Fatalf("result: %+v", res)
	}
	if n := lines(t, effects); n != 1 {
		t.Errorf("the job ran %d times, want 1", n)
	}
}

// Two workers handed the same job at once: one creates the record and runs it, the other waits.
func TestTwoWorkersOneStart(t *testing.T) {
	nc, js := setup(t)
	attempts, err := kvstore.OpenAttempts(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	id := protocol.JobID{RunID: "r1", Step: 1, Attempt: 1}
	var outcomes []claimOutcome
	for _, name := range []string{"a", "b"} {
		w := newWorker(t, nc, WithName(name))
		s := &session{w: w, attempts: attempts, seen: newStaleSeen()}
		how, _, existed := s.start(t.Context(), w.log, id)
		if existed {
			how, _ = s.takeOver(t.Context(), w.log, id)
		}
		outcomes = append(outcomes, how)
	}
	if outcomes[0] != claimRun || outcomes[1] != claimWait {
		t.Errorf("outcomes %v, want run then wait", outcomes)
	}
}

func TestStaleSeen(t *testing.T) {
	s := newStaleSeen()
	t0 := time.Now()
	after := time.Second
	for _, tc := range []struct {
		rev  uint64
		at   time.Duration
		want bool
	}{
		{rev: 7, at: 0, want: false},                       // first sight
		{rev: 7, at: 500 * time.Millisecond, want: false},  // not long enough
		{rev: 8, at: 1500 * time.Millisecond, want: false}, // renewed: start again
		{rev: 8, at: 2400 * time.Millisecond, want: false}, // 0.9 s since rev 8 was first seen
		{rev: 8, at: 2500 * time.Millisecond, want: true},  // a whole second unchanged
		{rev: 8, at: 9 * time.Second, want: true},          // still stale
		{rev: 9, at: 9*time.Second + time.Millisecond, want: false},
	} {
		if got := s.stale("k", tc.rev, after, t0.Add(tc.at)); got != tc.want {
			t.Errorf("rev %d at %s: stale %v, want %v", tc.rev, tc.at, got, tc.want)
		}
	}
}

// resultLookups counts the requests for a job's stored result (direct gets on the results
// stream) that the connection from makes from now on, as seen on the server of nc.
func resultLookups(t *testing.T, nc, from *nats.Conn) *atomic.Int64 {
	t.Helper()
	// Requests are answered on the requester's own inbox prefix.
	inbox := from.NewRespInbox()
	prefix := inbox[:strings.LastIndex(inbox, ".")+1]
	var n atomic.Int64
	sub, err := nc.Subscribe("$JS.API.DIRECT.GET."+protocol.ResultsStreamName+".>", func(m *nats.Msg) {
		if strings.HasPrefix(m.Reply, prefix) {
			n.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &n
}

// A job delivered for the first time, whose attempt record the worker creates, runs without
// looking for an earlier result (nobody held it, so nobody stored one); a job started before
// is looked up first, and one that has its result does not run.
func TestOnlyStartedJobsAreLookedUp(t *testing.T) {
	nc, js := setup(t)
	wnc, _ := natstest.Connect(t, nc.ConnectedUrl())
	lookups := resultLookups(t, nc, wnc)
	start(t, newWorker(t, wnc))

	fresh, effects := countingJob(t)
	publishJob(t, js, fresh)
	waitResult(t, js, fresh.ID)
	waitJobsEmpty(t, js)
	if n := lines(t, effects); n != 1 {
		t.Fatalf("the fresh job ran %d times, want 1", n)
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("a fresh job made %d result lookups, want 0", n)
	}

	started, effects := countingJob(t)
	started.ID.Step = 2
	recordStart(t, js, started.ID, protocol.Attempt{Worker: "dead-worker", Token: "dead", Starts: 1})
	publishResult(t, js, protocol.Result{Version: protocol.JobVersion, ID: started.ID, Worker: "dead-worker", Success: true})
	publishJob(t, js, started)
	waitJobsEmpty(t, js)
	if n := lines(t, effects); n != 0 {
		t.Errorf("a job with its result ran %d times, want 0", n)
	}
	if n := lookups.Load(); n == 0 {
		t.Error("a job started before ran without looking up its result")
	}
}
