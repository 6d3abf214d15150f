package worker

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// A worker running a job answers who holds it; nobody answers for a job nobody runs, or once the
// job is done.
func TestWorkerAnswersForHeldJobs(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc, WithName("holder")))
	marker := filepath.Join(t.TempDir(), "started")
	job := shellJob(1, `touch "$MARKER"; sleep 2`)
	job.Shell.Environment = map[string]string{"MARKER": marker}
	publishJob(t, js, job)
	natstest.Eventually(t, wait, func() error {
		_, err := os.Stat(marker)
		return err
	})
	m, err := nc.Request(protocol.HeldSubject(job.ID), nil, time.Second)
	if err != nil || string(m.Data) != "holder" {
		t.Fatalf("held question for a running job: %v %v", m, err)
	}
	other := job.ID
	other.Step = 2
	if _, err := nc.Request(protocol.HeldSubject(other), nil, 300*time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Errorf("held question for a job nobody runs: %v, want a timeout", err)
	}
	waitResult(t, js, job.ID)
	natstest.Eventually(t, wait, func() error {
		if _, err := nc.Request(protocol.HeldSubject(job.ID), nil, 300*time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
			return errors.New("finished job still answered for")
		}
		return nil
	})
}
