package coordinator

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// blockOn returns a job function that holds jobs whose command is "block" until release is
// closed, counting how many it started.
func blockOn(release <-chan struct{}, started *atomic.Int32) func(*protocol.Job) protocol.Result {
	return func(job *protocol.Job) protocol.Result {
		if job.Shell.Command == "block" {
			started.Add(1)
			<-release
		}
		return byCommand(job)
	}
}

const haltDoc = header + "tasks:\n  - shell:\n      command: block\n" + "  - shell:\n      command: never\n" +
	"hooks:\n  on_fail:\n" + "  - shell:\n      command: cleanup\n" + "  post_book:\n" + "  - shell:\n      command: end\n"

func TestCancelStopsTheRunAndRunsFailureHooks(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	release := make(chan struct{})
	var started atomic.Int32
	w := e.startTestWorker(blockOn(release, &started))
	id := e.submit(haltDoc, nil)
	natstest.Eventually(t, 10*time.Second, func() error {
		if started.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	if _, err := e.client.Cancel(context.Background(), id, "wrong tier"); err != nil {
		t.Fatal(err)
	}
	// The job ends only once the driver stopped its step: a result that came first would end the
	// step as it happened (done), and the cancellation would stop the next one instead.
	runs := mustRuns(t, e)
	natstest.Eventually(t, 10*time.Second, func() error {
		if rec, _, err := runs.Get(context.Background(), id); err != nil || len(rec.Steps) == 0 || !rec.Steps[0].Done {
			return errNotYet
		}
		return nil
	})
	close(release)
	r := e.waitFinal(id, 10*time.Second)
	if r.Status != protocol.StatusCancelled || r.Error != "cancelled: wrong tier" {
		t.Fatalf("status %s error %q", r.Status, r.Error)
	}
	if got := trace(r); got != "tasks:false: on_fail:true:cleanup post_book:true:end" {
		t.Errorf("tasks: %s", got)
	}
	if !strings.Contains(r.Tasks[0].Msg, "wrong tier") {
		t.Errorf("stopped task msg %q", r.Tasks[0].Msg)
	}
	for _, job := range w.jobs {
		if job.Shell.Command == "never" {
			t.Errorf("a task after the cancellation ran")
		}
	}
	// Cancelling a finished run changes nothing.
	again, err := e.client.Cancel(context.Background(), id, "late")
	if err != nil || again.Status != protocol.StatusCancelled || again.Error != "cancelled: wrong tier" {
		t.Errorf("second cancel: %v %+v", err, again)
	}
}

func TestRunTimeLimit(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	release := make(chan struct{})
	defer close(release)
	var started atomic.Int32
	e.startTestWorker(blockOn(release, &started))
	resp, err := e.client.Submit(context.Background(), protocol.SubmitRequest{
		Playbook: header + "tasks:\n  - shell:\n      command: block\n", IdempotencyKey: "limit", Timeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := e.waitFinal(resp.RunID, 10*time.Second)
	if r.Status != protocol.StatusCancelled || !strings.HasPrefix(r.Error, "timed out") {
		t.Fatalf("status %s error %q", r.Status, r.Error)
	}
}
