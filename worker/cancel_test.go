package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
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

// heldMessage delivers one job message from a real server, for the heartbeat to send InProgress on.
func heldMessage(t *testing.T) jetstream.Msg {
	t.Helper()
	nc, js := setup(t)
	w := newWorker(t, nc)
	cons, err := js.CreateOrUpdateConsumer(t.Context(), protocol.JobsStreamName, w.consumerConfig())
	if err != nil {
		t.Fatal(err)
	}
	publishJob(t, js, shellJob(1, "true"))
	m, err := cons.Next(jetstream.FetchMaxWait(wait))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A heartbeat whose renewal finds the job taken over by another worker stops this copy; one
// whose renewals fail because the server is away keeps the job.
func TestHeartbeatStopsACopyTakenOver(t *testing.T) {
	msg := heldMessage(t)
	log := slog.New(slog.DiscardHandler)

	var renewals atomic.Int32
	lost := make(chan struct{})
	stop := startHeartbeat(msg, 20*time.Millisecond, time.Minute, log, func() error {
		if renewals.Add(1) < 3 {
			return nil
		}
		return fmt.Errorf("update attempt: %w", kvstore.ErrConflict)
	}, func() { close(lost) })
	select {
	case <-lost:
	case <-time.After(wait):
		t.Fatal("a takeover was not noticed")
	}
	stop()
	if n := renewals.Load(); n != 3 {
		t.Errorf("%d renewals, want 3 (the heartbeat ends at the takeover)", n)
	}

	var failed atomic.Int32
	stop = startHeartbeat(msg, 20*time.Millisecond, time.Minute, log, func() error {
		failed.Add(1)
		return context.DeadlineExceeded
	}, func() { t.Error("a renewal that timed out was taken for a takeover") })
	natstest.Eventually(t, wait, func() error {
		if n := failed.Load(); n < 5 {
			return fmt.Errorf("%d renewals so far", n)
		}
		return nil
	})
	stop()
}
