package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// A run's cancel message kills its running shell job (the whole process group) and the job is
// answered with a failed "cancelled" result carrying the coordinator's reason; a job of another
// run keeps running.
func TestCancelKillsRunningJob(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc, WithAckWait(time.Minute)))
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")

	job := shellJob(1, `sleep 60 & echo $! >> "$PIDS"; echo $$ >> "$PIDS"; sleep 60`)
	job.Shell.Environment = map[string]string{"PIDS": pids}
	publishJob(t, js, job)
	other := shellJob(1, `sleep 1; echo other`)
	other.ID.RunID = "r2"
	publishJob(t, js, other)
	natstest.Eventually(t, wait, func() error {
		if lines(t, pids) < 2 {
			return errors.New("job has not started")
		}
		return nil
	})

	if err := nc.Publish(protocol.CancelSubject("r1"), []byte("cancelled: requested by an operator")); err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, js, job.ID)
	if res.Success || res.Msg != "cancelled: requested by an operator" || res.ExitCode != -1 {
		t.Errorf("result: %+v", res)
	}
	got := natstest.ReadPids(t, pids)
	natstest.Eventually(t, wait, func() error {
		for _, pid := range got {
			if !natstest.ProcessGone(pid) {
				return fmt.Errorf("process %d still runs", pid)
			}
		}
		return nil
	})
	if res := waitResult(t, js, other.ID); !res.Success {
		t.Errorf("job of another run: %+v", res)
	}

	// A job of the run that comes after the cancel (an on_fail hook, say) runs as usual.
	late := shellJob(2, `echo hook`)
	publishJob(t, js, late)
	if res := waitResult(t, js, late.ID); !res.Success {
		t.Errorf("job published after the cancel: %+v", res)
	}
	waitJobsEmpty(t, js)
}

// cancels: a tracked job is cancelled with the reason; other runs and jobs tracked after the
// cancel are untouched; done forgets the job.
func TestCancelsTrack(t *testing.T) {
	c := newCancels()
	a, doneA := c.track(t.Context(), "r1")
	b, doneB := c.track(t.Context(), "r2")
	defer doneB()
	if n := c.cancel("r1", "stop it"); n != 1 {
		t.Errorf("cancel stopped %d jobs, want 1", n)
	}
	var ce *cancelError
	if !errors.As(context.Cause(a), &ce) || ce.reason != "stop it" || !errors.Is(context.Cause(a), errRunCancelled) {
		t.Errorf("cause %v", context.Cause(a))
	}
	if b.Err() != nil {
		t.Errorf("another run's job was cancelled")
	}
	doneA()
	late, doneLate := c.track(t.Context(), "r1")
	defer doneLate()
	if late.Err() != nil {
		t.Errorf("a job tracked after the cancel was cancelled: %v", context.Cause(late))
	}
	doneLate()
	doneB()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.running) != 0 {
		t.Errorf("settled jobs still tracked: %v", c.running)
	}
}

// A heartbeat tick that finds the last heartbeat older than the lease reports the lease lost
// instead of sending InProgress (it would renew another worker's delivery).
func TestHeartbeatNoticesLostLease(t *testing.T) {
	lost := make(chan struct{})
	// Every tick comes later than the lease allows, as after a SIGSTOP longer than AckWait.
	stop := startHeartbeat(nil, 50*time.Millisecond, 10*time.Millisecond, slog.New(slog.DiscardHandler), func() { close(lost) })
	defer stop()
	select {
	case <-lost:
	case <-time.After(wait):
		t.Fatal("lost lease not noticed")
	}
}
