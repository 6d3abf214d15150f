package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// wait bounds every Eventually in these tests: generous, since -race on a small machine is slow;
// none of the tests asserts how fast anything is.
const wait = 20 * time.Second

// setup starts a server with every fleetbook stream provisioned.
func setup(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s.ClientURL())
	if err := kvstore.Provision(t.Context(), js, kvstore.Config{}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return nc, js
}

// newWorker builds a worker with test timings; opts come last so they win.
func newWorker(t *testing.T, nc *nats.Conn, opts ...Option) *Worker {
	t.Helper()
	base := []Option{WithAckWait(time.Second), WithShutdownGrace(time.Second), WithConcurrency(2)}
	w, err := New(nc, append(base, opts...)...)
	if err != nil {
		t.Fatalf("new worker: %v", err)
	}
	// Short pulls so a stopping worker notices quickly.
	w.opts.fetchWait = 200 * time.Millisecond
	return w
}

// start runs w until the returned stop is called (or the test ends), and fails the test if Run
// errs or does not return.
func start(t *testing.T, w *Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return after its context was cancelled")
		}
	})
	t.Cleanup(stop)
	return stop
}

// shellJob is a shell job of run "r1" at step.
func shellJob(step int, command string) protocol.Job {
	return protocol.Job{
		Version:  protocol.JobVersion,
		ID:       protocol.JobID{RunID: "r1", Step: step, Attempt: 1},
		Type:     protocol.TaskShell,
		Playbook: "test_book",
		Shell:    &protocol.ShellSpec{Command: command},
	}
}

// countingJob is a shell job of step 1 that adds a line to a file of its own every time it runs;
// lines(t, effects) counts its runs.
func countingJob(t *testing.T) (job protocol.Job, effects string) {
	t.Helper()
	effects = filepath.Join(t.TempDir(), "effects")
	job = shellJob(1, `echo ran >> "$EFFECTS"`)
	job.Shell.Environment = map[string]string{"EFFECTS": effects}
	return job, effects
}

func publishJob(t *testing.T, js jetstream.JetStream, job protocol.Job) {
	t.Helper()
	data, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(t, js, protocol.JobSubject(protocol.DefaultPool, job.ID), data)
}

func publishRaw(t *testing.T, js jetstream.JetStream, subject string, data []byte) {
	t.Helper()
	if _, err := js.Publish(t.Context(), subject, data); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// lastResult returns the stored result of id, or an error when there is none yet.
func lastResult(ctx context.Context, js jetstream.JetStream, id protocol.JobID) (*protocol.Result, uint64, error) {
	st, err := js.Stream(ctx, protocol.ResultsStreamName)
	if err != nil {
		return nil, 0, err
	}
	m, err := st.GetLastMsgForSubject(ctx, protocol.ResultSubject(id))
	if err != nil {
		return nil, 0, err
	}
	var res protocol.Result
	if err := json.Unmarshal(m.Data, &res); err != nil {
		return nil, 0, err
	}
	return &res, m.Sequence, nil
}

// waitResult waits for the result of id.
func waitResult(t *testing.T, js jetstream.JetStream, id protocol.JobID) protocol.Result {
	t.Helper()
	var res *protocol.Result
	natstest.Eventually(t, wait, func() error {
		var err error
		res, _, err = lastResult(t.Context(), js, id)
		return err
	})
	return *res
}

// streamMsgs is the number of messages in stream.
func streamMsgs(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// waitJobsEmpty waits until every job has been acknowledged or terminated.
func waitJobsEmpty(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	natstest.Eventually(t, wait, func() error {
		n, err := streamMsgs(t.Context(), js, protocol.JobsStreamName)
		if err == nil && n != 0 {
			err = fmt.Errorf("%d jobs still in the stream", n)
		}
		return err
	})
}

// lines is the number of lines in path, 0 when it does not exist.
func lines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

func killPid(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
