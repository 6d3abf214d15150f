package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

func TestNewValidates(t *testing.T) {
	nc, _ := setup(t)
	if _, err := New(nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("New(nil): got %v, want ErrInvalidOption", err)
	}
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"empty name", WithName("")},
		{"pool with dot", WithPool("a.b")},
		{"empty pool", WithPool("")},
		{"zero concurrency", WithConcurrency(0)},
		{"tiny ack wait", WithAckWait(time.Millisecond)},
		{"zero max deliveries", WithMaxDeliveries(0)},
		{"negative grace", WithShutdownGrace(-time.Second)},
		{"nil logger", WithLogger(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(nc, tc.opt); !errors.Is(err, ErrInvalidOption) {
				t.Errorf("got %v, want ErrInvalidOption", err)
			}
		})
	}
	w, err := New(nc)
	if err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if w.Name() == "" || w.opts.pool != protocol.DefaultPool || w.opts.concurrency != 4 {
		t.Errorf("unexpected defaults: %+v", w.opts)
	}
}

func TestJobSucceedsWithCombinedOutput(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc, WithName("w1")))

	job := shellJob(1, "echo one; echo two >&2; echo three")
	publishJob(t, js, job)
	res := waitResult(t, js, job.ID)

	if !res.Success || res.Msg != "Command completed successfully" || res.ExitCode != 0 {
		t.Errorf("result: %+v", res)
	}
	if res.Data != "one\ntwo\nthree\n" {
		t.Errorf("output %q, want stdout and stderr in order", res.Data)
	}
	if res.Worker != "w1" || res.ID != job.ID || res.Version != protocol.JobVersion {
		t.Errorf("result identity: %+v", res)
	}
	if res.StartedAt.IsZero() || res.EndedAt.Before(res.StartedAt) {
		t.Errorf("times: started %v ended %v", res.StartedAt, res.EndedAt)
	}
	waitJobsEmpty(t, js)
}

func TestJobFailsWithExitCode(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc))

	job := shellJob(1, "echo bad; exit 3")
	publishJob(t, js, job)
	res := waitResult(t, js, job.ID)
	if res.Success || res.Msg != "Command failed with code 3" || res.ExitCode != 3 || res.Data != "bad\n" {
		t.Errorf("result: %+v", res)
	}
	waitJobsEmpty(t, js)
}

func TestEnvironmentAndCwd(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc, WithName("w-env")))
	dir := t.TempDir()

	job := shellJob(7, `printf '%s|%s|%s|%s|%s|%s|%s' "$GREETING" "$(pwd)" "$FLEETBOOK_RUN_ID" "$FLEETBOOK_STEP" "$FLEETBOOK_ATTEMPT" "$FLEETBOOK_PLAYBOOK" "$FLEETBOOK_WORKER"`)
	job.ID.Attempt = 2
	job.Shell.Cwd = dir
	// A job may not impersonate fleetbook's own variables.
	job.Shell.Environment = map[string]string{"GREETING": "hello world", "FLEETBOOK_WORKER": "spoofed"}
	publishJob(t, js, job)
	res := waitResult(t, js, job.ID)

	want := fmt.Sprintf("hello world|%s|r1|7|2|test_book|w-env", dir)
	if !res.Success || res.Data != want {
		t.Errorf("got %q (%s), want %q", res.Data, res.Msg, want)
	}
}

func TestNonexistentCwdFailsCleanly(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc))
	missing := filepath.Join(t.TempDir(), "nope")

	job := shellJob(1, "echo should not run")
	job.Shell.Cwd = missing
	publishJob(t, js, job)
	res := waitResult(t, js, job.ID)
	if res.Success || res.Msg != "Working directory "+missing+" does not exist" || res.ExitCode != -1 {
		t.Errorf("result: %+v", res)
	}
	waitJobsEmpty(t, js)
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	nc, js := setup(t)
	stop := start(t, newWorker(t, nc))
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")

	// Background children and a grandchild, all holding the output pipe open: the classic hang.
	job := shellJob(1, `sleep 60 & echo $! >> "$PIDS"
sh -c 'sleep 60 & echo $! >> "$PIDS"; wait' &
echo $! >> "$PIDS"
echo $$ >> "$PIDS"
echo started
sleep 60`)
	job.Shell.Timeout = time.Second
	job.Shell.Environment = map[string]string{"PIDS": pids}
	publishJob(t, js, job)
	res := waitResult(t, js, job.ID)

	if res.Success || res.Msg != "Command timed out after 1s" || res.ExitCode != -1 {
		t.Errorf("result: %+v", res)
	}
	if res.Data != "started\n" {
		t.Errorf("output %q", res.Data)
	}
	got := natstest.ReadPids(t, pids)
	if len(got) != 4 {
		t.Fatalf("want 4 pids, got %v", got)
	}
	natstest.Eventually(t, wait, func() error {
		for _, pid := range got {
			if !natstest.ProcessGone(pid) {
				return fmt.Errorf("process %d still runs", pid)
			}
		}
		return nil
	})
	waitJobsEmpty(t, js)
	stop()
}

func TestHostileEnvironmentValuesAreInert(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc, WithConcurrency(4)))
	dir := t.TempDir()

	values := []string{
		"; touch CANARY #",
		"$(touch CANARY)",
		"`touch CANARY`",
		"a\nb\n; touch CANARY\n",
		`"'\` + "\\n",
		"--help",
		"$HOME ${PATH} $((1+1)) *",
		"' ; touch CANARY ; '",
	}
	for i, v := range values {
		job := shellJob(i+1, `printf '%s' "$VALUE"`)
		job.Shell.Cwd = dir
		job.Shell.Environment = map[string]string{"VALUE": v}
		publishJob(t, js, job)
	}
	for i, v := range values {
		res := waitResult(t, js, shellJob(i+1, "").ID)
		if !res.Success || res.Data != v {
			t.Errorf("value %q echoed as %q (%s)", v, res.Data, res.Msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "CANARY")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("canary file exists or stat failed: %v", err)
	}
}

// A holder that stored its result and died before acknowledging: the job comes back, and is
// acknowledged without running. (A result is only ever stored by the holder of the job's attempt
// record, so the record is there too.)
func TestJobWithResultIsNotRunAgain(t *testing.T) {
	nc, js := setup(t)

	job, effects := countingJob(t)
	recordStart(t, js, job.ID, protocol.Attempt{Worker: "dead-worker", Token: "dead", Starts: 1})
	earlier := protocol.Result{Version: protocol.JobVersion, ID: job.ID, Worker: "dead-worker", Success: true, Msg: "Command completed successfully"}
	data, _ := json.Marshal(earlier)
	publishRaw(t, js, protocol.ResultSubject(job.ID), data)
	_, seq, err := lastResult(t.Context(), js, job.ID)
	if err != nil {
		t.Fatal(err)
	}

	publishJob(t, js, job)
	start(t, newWorker(t, nc))
	waitJobsEmpty(t, js)

	if n := lines(t, effects); n != 0 {
		t.Errorf("command ran %d times, want 0", n)
	}
	res, seq2, err := lastResult(t.Context(), js, job.ID)
	if err != nil || seq2 != seq || res.Worker != "dead-worker" {
		t.Errorf("result changed: %+v seq %d→%d err %v", res, seq, seq2, err)
	}
}

func TestUnackedJobIsRedeliveredAndRunOnce(t *testing.T) {
	nc, js := setup(t)
	w := newWorker(t, nc, WithAckWait(500*time.Millisecond))
	cons, err := js.CreateOrUpdateConsumer(t.Context(), protocol.JobsStreamName, w.consumerConfig())
	if err != nil {
		t.Fatal(err)
	}

	job, effects := countingJob(t)
	publishJob(t, js, job)

	// A worker that took the job and died: it never acknowledges.
	first, err := cons.Next(jetstream.FetchMaxWait(wait))
	if err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	if md, _ := first.Metadata(); md.NumDelivered != 1 {
		t.Fatalf("first delivery numbered %d", md.NumDelivered)
	}

	start(t, w)
	res := waitResult(t, js, job.ID)
	if !res.Success {
		t.Errorf("result: %+v", res)
	}
	waitJobsEmpty(t, js)
	if n := lines(t, effects); n != 1 {
		t.Errorf("command ran %d times, want 1", n)
	}
}

// A job that two workers started and died running (their attempt record says two starts, and
// nobody renews it) is answered "abandoned" by the next worker instead of being started a third
// time when max deliveries is 2.
func TestJobStartedTooOftenIsAbandoned(t *testing.T) {
	nc, js := setup(t)
	w := newWorker(t, nc, WithAckWait(300*time.Millisecond), WithMaxDeliveries(2))
	w.opts.staleFloor = 0

	job, effects := countingJob(t)
	recordStart(t, js, job.ID, protocol.Attempt{Worker: "dead-2", Token: "t2", Starts: 2})
	publishJob(t, js, job)

	start(t, w)
	res := waitResult(t, js, job.ID)
	if res.Success || !strings.HasPrefix(res.Msg, "abandoned after 2 starts") {
		t.Errorf("result: %+v", res)
	}
	waitJobsEmpty(t, js)
	if n := lines(t, effects); n != 0 {
		t.Errorf("abandoned command ran %d times", n)
	}
}

func TestShutdownKillsAndNaksRunningJob(t *testing.T) {
	nc, js := setup(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	// AckWait far beyond the test: the job can only come back this soon because it was Nak'd.
	w := newWorker(t, nc, WithAckWait(time.Minute), WithShutdownGrace(200*time.Millisecond))
	stop := start(t, w)

	job := shellJob(1, `echo $$ > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; sleep 60`)
	job.Shell.Environment = map[string]string{"PIDFILE": pidFile}
	publishJob(t, js, job)
	natstest.Eventually(t, wait, func() error { _, err := os.Stat(pidFile); return err })
	pids := natstest.ReadPids(t, pidFile)

	stop()

	if !natstest.ProcessGone(pids[0]) {
		natstest.Eventually(t, wait, func() error {
			if !natstest.ProcessGone(pids[0]) {
				return fmt.Errorf("shell %d still runs", pids[0])
			}
			return nil
		})
	}
	if _, _, err := lastResult(t.Context(), js, job.ID); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("an interrupted job has a result (err %v)", err)
	}
	cons, err := js.Consumer(t.Context(), protocol.JobsStreamName, protocol.JobsConsumer(protocol.DefaultPool))
	if err != nil {
		t.Fatal(err)
	}
	// Within wait, far inside AckWait: only a Nak brings it back this soon.
	m, err := cons.Next(jetstream.FetchMaxWait(wait))
	if err != nil {
		t.Fatalf("job not back in the queue: %v", err)
	}
	if md, _ := m.Metadata(); md.NumDelivered != 2 {
		t.Errorf("redelivery numbered %d, want 2", md.NumDelivered)
	}
}

func TestTwoWorkersShareThePool(t *testing.T) {
	nc, js := setup(t)
	dir := t.TempDir()
	start(t, newWorker(t, nc, WithName("a"), WithConcurrency(4), WithStore(kvstore.Config{})))
	start(t, newWorker(t, nc, WithName("b"), WithConcurrency(4), WithStore(kvstore.Config{})))

	const jobs = 50
	for i := 1; i <= jobs; i++ {
		job := shellJob(i, `echo "$FLEETBOOK_WORKER" >> "$DIR/$FLEETBOOK_STEP"`)
		job.Shell.Environment = map[string]string{"DIR": dir}
		publishJob(t, js, job)
	}
	for i := 1; i <= jobs; i++ {
		res := waitResult(t, js, shellJob(i, "").ID)
		if !res.Success || (res.Worker != "a" && res.Worker != "b") {
			t.Errorf("job %d: %+v", i, res)
		}
	}
	waitJobsEmpty(t, js)
	for i := 1; i <= jobs; i++ {
		if n := lines(t, filepath.Join(dir, fmt.Sprint(i))); n != 1 {
			t.Errorf("job %d ran %d times", i, n)
		}
	}
	n, err := streamMsgs(t.Context(), js, protocol.ResultsStreamName)
	if err != nil || n != jobs {
		t.Errorf("results stream holds %d results (err %v), want %d", n, err, jobs)
	}
}

func TestUnrunnableJobsAreAnsweredAndTerminated(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc, WithName("w9")))

	unknown := shellJob(1, "")
	unknown.Type, unknown.Shell = "teleport", nil
	publishJob(t, js, unknown)

	noSpec := shellJob(2, "")
	noSpec.Shell = nil
	publishJob(t, js, noSpec)

	badJSON := protocol.JobID{RunID: "r1", Step: 3, Attempt: 1}
	publishRaw(t, js, protocol.JobSubject(protocol.DefaultPool, badJSON), []byte("{not json"))

	future := shellJob(4, "echo hi")
	future.Version = 99
	publishJob(t, js, future)

	for _, tc := range []struct {
		id   protocol.JobID
		want string
	}{
		{unknown.ID, "unsupported task type teleport on worker w9"},
		{noSpec.ID, "shell job has no shell spec"},
		{badJSON, "undecodable job: job is not valid JSON"},
		{future.ID, "undecodable job: job version 99 is not supported"},
	} {
		res := waitResult(t, js, tc.id)
		if res.Success || !strings.HasPrefix(res.Msg, tc.want) {
			t.Errorf("job %s: msg %q, want prefix %q", tc.id, res.Msg, tc.want)
		}
	}
	waitJobsEmpty(t, js)
}

func TestRunWithStoreProvisionsStreams(t *testing.T) {
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s.ClientURL())
	start(t, newWorker(t, nc, WithStore(kvstore.Config{Memory: true})))

	job := shellJob(1, "echo hi")
	natstest.Eventually(t, wait, func() error {
		data, _ := json.Marshal(job)
		_, err := js.Publish(t.Context(), protocol.JobSubject(protocol.DefaultPool, job.ID), data, jetstream.WithMsgID(job.ID.String()))
		return err
	})
	if res := waitResult(t, js, job.ID); !res.Success || res.Data != "hi\n" {
		t.Errorf("result: %+v", res)
	}
}

func TestRunWithoutStreamsFails(t *testing.T) {
	s := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, s.ClientURL())
	w := newWorker(t, nc)
	if err := w.Run(t.Context()); !errors.Is(err, ErrStartup) {
		t.Errorf("Run without streams: got %v, want ErrStartup", err)
	}
}

func TestNoopJobSucceedsWithItsMessage(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc))
	job := shellJob(1, "")
	job.Type, job.Shell, job.Properties = protocol.TaskNoop, nil, map[string]any{"msg": "nothing to do"}
	publishJob(t, js, job)
	if res := waitResult(t, js, job.ID); !res.Success || res.Msg != "nothing to do" {
		t.Errorf("noop result %+v", res)
	}
}

// A stopping worker ends its waiting pulls: Run returns at once although each pull would wait an
// hour for a job, and a job published after it stopped is not handed to a pull nobody reads any
// more (with an AckWait of an hour, it would be lost for the test's length): the next worker runs it.
func TestStopEndsWaitingPulls(t *testing.T) {
	nc, js := setup(t)
	w := newWorker(t, nc, WithAckWait(time.Hour), WithConcurrency(2))
	w.opts.fetchWait = time.Hour
	stop := start(t, w)
	natstest.Eventually(t, wait, func() error {
		cons, err := js.Consumer(t.Context(), protocol.JobsStreamName, protocol.JobsConsumer(protocol.DefaultPool))
		if err != nil {
			return err
		}
		info, err := cons.Info(t.Context())
		if err != nil {
			return err
		}
		if info.NumWaiting < 2 {
			return fmt.Errorf("%d pulls waiting, want 2", info.NumWaiting)
		}
		return nil
	})
	stop() // fails the test if Run does not return within 30 s

	job := shellJob(1, "echo after")
	publishJob(t, js, job)
	start(t, newWorker(t, nc, WithName("next"), WithAckWait(time.Hour)))
	if res := waitResult(t, js, job.ID); !res.Success || res.Worker != "next" {
		t.Errorf("result: %+v", res)
	}
}

// A slot asks for its next job as soon as it takes one, but a job pulled ahead of a slot busy
// with a long job is handed back at once, to a worker that is free: it never waits behind the
// long job.
func TestJobPulledAheadOfABusySlotGoesToAFreeWorker(t *testing.T) {
	nc, js := setup(t)
	long := shellJob(1, "sleep 60")
	publishJob(t, js, long)
	// An AckWait longer than the test: the short job can only leave a busy slot's hands by being
	// handed back.
	start(t, newWorker(t, nc, WithName("busy"), WithConcurrency(1), WithAckWait(time.Hour)))
	attempts, err := kvstore.OpenAttempts(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	// The long job runs (its worker made the pool's consumer first).
	natstest.Eventually(t, wait, func() error {
		_, err := attempts.Get(t.Context(), long.ID)
		return err
	})
	cons, err := js.Consumer(t.Context(), protocol.JobsStreamName, protocol.JobsConsumer(protocol.DefaultPool))
	if err != nil {
		t.Fatal(err)
	}
	waiting := func(n int) func() error {
		return func() error {
			info, err := cons.Info(t.Context())
			if err != nil {
				return err
			}
			if info.NumWaiting < n {
				return fmt.Errorf("%d pulls waiting, want %d", info.NumWaiting, n)
			}
			return nil
		}
	}
	// Its slot's pull for the next job waits; then a free worker's.
	natstest.Eventually(t, wait, waiting(1))
	start(t, newWorker(t, nc, WithName("free"), WithConcurrency(1), WithAckWait(time.Hour)))
	natstest.Eventually(t, wait, waiting(2))

	short := shellJob(2, "true")
	publishJob(t, js, short)
	if res := waitResult(t, js, short.ID); res.Worker != "free" {
		t.Errorf("the short job ran on %q, want the free worker", res.Worker)
	}
	if _, _, err := lastResult(t.Context(), js, long.ID); err == nil {
		t.Fatal("the long job ended: the test proves nothing")
	}
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The long job, the short one to the busy worker's pull, and again to the free worker.
	if info.Delivered.Consumer != 3 {
		t.Errorf("%d deliveries, want 3: the short job did not go to the busy slot first", info.Delivered.Consumer)
	}
}
