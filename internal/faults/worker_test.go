package faults

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// onStep is a step body that runs then only in step n, so one step of a run can be singled out.
func onStep(n int, then string) string {
	return fmt.Sprintf(`if [ "$FLEETBOOK_STEP" = %d ]; then %s; fi`, n, then)
}

// W1: kill -9 of the worker running step 3 of 5, half a second into the step; a second worker
// takes the step over once AckWait passes. Every effect once; step 3 tried twice, the rest once.
func TestW1WorkerKilledMidStep(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	w1 := r.worker("w1", "--concurrency", "1")
	id := r.mustSubmit(book(5, onStep(3, sleepBody)), map[string]any{"sleep": "3"})

	r.waitLedger(time.Minute, "step 3 start", func(e entry) bool { return e.kind == "start" && e.step == 3 })
	time.Sleep(500 * time.Millisecond)
	w1.kill()
	killed := time.Now()
	if count(readLedger(t, r.ledger), "done", id, 3) != 0 {
		t.Fatal("step 3 finished before its worker was killed; the row proves nothing")
	}
	r.worker("w2", "--concurrency", "1")
	r.waitLedger(time.Minute, "step 3 redelivered", func(e entry) bool {
		return e.kind == "start" && e.step == 3 && count(readLedger(t, r.ledger), "start", id, 3) >= 2
	})
	redelivered := since(killed)
	v := r.check([]string{id}, 5, r.waitFinal([]string{id}, time.Minute))
	es := readLedger(t, r.ledger)
	for s := 1; s <= 5; s++ {
		want := 1
		if s == 3 {
			want = 2
		}
		if n := count(es, "start", id, s); n != want {
			t.Errorf("step %d tried %d times, want %d", s, n, want)
		}
	}
	t.Logf("ROW W1: step 3 redelivered %s after the kill (AckWait %s)", redelivered, r.lease)
	requireOK(t, "W1", v)
}

// W2 and W4: the host running a step is paused (SIGSTOP of the worker and of the step's process
// group) for 3×AckWait. The step goes to a second worker, which completes it; then the first
// worker resumes, notices that its lease was lost while it was stopped, kills its copy of the
// step and publishes nothing. One effect, one accepted completion.
func TestW2PausedWorkerIsFenced(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	w1 := r.worker("w1", "--concurrency", "1")
	id := r.mustSubmit(book(3, onStep(2, sleepBody)), map[string]any{"sleep": "4"})

	st := r.waitLedger(time.Minute, "step 2 start", func(e entry) bool { return e.kind == "start" && e.step == 2 })
	pgid, err := strconv.Atoi(st.extra[1])
	if err != nil {
		t.Fatal(err)
	}
	w1.signal(syscall.SIGSTOP)
	_ = syscall.Kill(-pgid, syscall.SIGSTOP)
	paused := time.Now()
	defer syscall.Kill(-pgid, syscall.SIGCONT)

	r.worker("w2", "--concurrency", "1")
	r.waitLedger(time.Minute, "step 2 done by the second worker", func(e entry) bool { return e.kind == "done" && e.step == 2 })
	if d := 3 * r.lease; time.Since(paused) < d {
		time.Sleep(d - time.Since(paused))
	}
	// The worker resumes first, as its heartbeat would on a resumed host: its first renewal of
	// the job's attempt record fails (w2 took the job over), and it must kill the stale copy of
	// the step before that copy can finish.
	w1.signal(syscall.SIGCONT)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(w1.logText(), "taken over by another worker"); {
		if time.Now().After(deadline) {
			t.Errorf("worker w1 did not notice that its job was taken over")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGCONT)

	reports := r.waitFinal([]string{id}, time.Minute)
	es := readLedger(t, r.ledger)
	if n := count(es, "start", id, 2); n != 2 {
		t.Errorf("step 2 started %d times, want 2 (paused, then redelivered)", n)
	}
	if strings.Contains(w1.logText(), `"job finished"`) && strings.Contains(w1.logText(), "step 2") {
		t.Errorf("the paused worker published a completion")
	}
	var stepTries int
	if rep := reports[id]; len(rep.Tasks) == 3 {
		stepTries = rep.Tasks[1].Tries
	}
	if stepTries != 1 {
		t.Errorf("step 2 recorded %d tries, want 1: the redelivery is the same attempt", stepTries)
	}
	t.Logf("ROW W2/W4: paused %s; zombie fenced (takeover noticed at its first renewal, its copy killed, no result); accepted completions 1", 3*r.lease)
	requireOK(t, "W2", r.check([]string{id}, 3, reports))
}

// W3: a step running 3×AckWait keeps its job by heartbeats: it is delivered once.
func TestW3LongStepHeartbeats(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	r.worker("w1")
	r.worker("w2")
	id := r.mustSubmit(book(1, sleepBody), map[string]any{"sleep": strconv.Itoa(int(3 * r.lease / time.Second))})
	reports := r.waitFinal([]string{id}, time.Minute)
	if n := count(readLedger(t, r.ledger), "start", id, 1); n != 1 {
		t.Errorf("step delivered %d times, want 1", n)
	}
	requireOK(t, "W3", r.check([]string{id}, 1, reports))
}

// W5: a step failing twice then succeeding, with tries: 3, is tried 3 times with try_sleep between
// tries, and has one effect.
func TestW5TransientFailure(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	r.worker("w1")
	body := `n=$(grep -c "^start $FLEETBOOK_RUN_ID $FLEETBOOK_STEP " "$LEDGER"); [ "$n" -ge 3 ] || exit 1`
	id := r.mustSubmit(book(1, body, "tries: 3", "try_sleep: 1"), nil)
	reports := r.waitFinal([]string{id}, time.Minute)
	rep := reports[id]
	if len(rep.Tasks) != 1 || rep.Tasks[0].Tries != 3 {
		t.Fatalf("report %+v, want one task tried 3 times", rep.Tasks)
	}
	gap := rep.Tasks[0].EndedAt.Sub(rep.Tasks[0].StartedAt)
	t.Logf("ROW W5: 3 tries in %s with try_sleep 1s between them", gap.Round(10*time.Millisecond))
	requireOK(t, "W5", r.check([]string{id}, 1, reports))
}

// W6: a step that fails for good fails its run after one try, and is not delivered again.
func TestW6PermanentFailure(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	r.worker("w1")
	id := r.mustSubmit(book(2, onStep(1, "exit 3")), nil)
	rep := r.waitFinal([]string{id}, time.Minute)[id]
	if rep.Status != protocol.StatusFailed || len(rep.Tasks) != 1 || rep.Tasks[0].Msg != "Command failed with code 3" {
		t.Fatalf("report: status %s tasks %+v", rep.Status, rep.Tasks)
	}
	time.Sleep(2 * r.lease) // a redelivery, were there one, would come within AckWait
	es := readLedger(t, r.ledger)
	if n := count(es, "start", id, 1); n != 1 {
		t.Errorf("failed step delivered %d times, want 1", n)
	}
	if n := count(es, "start", id, 2); n != 0 {
		t.Errorf("step after the failed one ran %d times", n)
	}
	t.Logf("ROW W6: run failed after 1 delivery, 0 redeliveries within 2×AckWait")
}

// W7: a step that kills its worker every time (kill -9 of the worker process) is abandoned after
// 5 starts: the worker that would take it over a fifth time answers it "abandoned", the run fails
// and is not left running.
func TestW7PoisonStepExhaustsDeliveries(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	stop := supervise(t, func(n int) *proc { return r.worker(fmt.Sprintf("w%d", n), "--concurrency", "1") })
	t0 := time.Now()
	id := r.mustSubmit(book(1, `kill -9 $PPID; sleep 5`), nil)
	rep := r.waitFinal([]string{id}, 2*time.Minute)[id]
	workers := stop()
	if rep.Status != protocol.StatusFailed || len(rep.Tasks) != 1 || !strings.Contains(rep.Tasks[0].Msg, "abandoned after 5 starts") {
		t.Fatalf("report: status %s tasks %+v", rep.Status, rep.Tasks)
	}
	es := readLedger(t, r.ledger)
	if n := count(es, "start", id, 1); n != 5 {
		t.Errorf("poison step ran %d times, want 5", n)
	}
	if n := count(es, "done", id, 1); n != 0 {
		t.Errorf("poison step had %d effects", n)
	}
	t.Logf("ROW W7: 5 starts (each killed its worker; %d worker processes), then abandoned; run failed %s after submit", workers, since(t0))
}
