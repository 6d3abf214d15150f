package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/fleettest"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// bin is the fleetbook binary TestMain built.
var bin string

func TestMain(m *testing.M) { fleettest.Main(m, &bin) }

// long reports whether the long forms run (FLEETBOOK_FAULTS_LONG=1).
func long() bool { return os.Getenv("FLEETBOOK_FAULTS_LONG") == "1" }

// pick returns short, or long when the long forms run.
func pick(short, long_ int) int {
	if long() {
		return long_
	}
	return short
}

// proc is a fleetbook process (coordinator or worker) the test can kill, pause and resume.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	// sigkilled is set before the test SIGKILLs the process (not at the end of the test).
	sigkilled atomic.Bool
}

// startProc starts fleetbook with args; it is SIGKILLed when the test ends, and its log printed
// if the test failed.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "NATS_URL=")
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.signal(syscall.SIGCONT)
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			// FLEETBOOK_FAULTS_FULL_LOGS=1 prints whole logs, to follow one job through them.
			if len(b) > 6000 && os.Getenv("FLEETBOOK_FAULTS_FULL_LOGS") != "1" {
				b = b[len(b)-6000:]
			}
			t.Logf("--- tail of %s log:\n%s", name, b)
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// readiness is how long a starting process may take to be ready: on a loaded 2-core machine, a
// coordinator provisioning replicated streams on a forming cluster has taken more than 30 s.
const readiness = 3 * time.Minute

// waitAPI waits until a coordinator answers the API: on a loaded machine, or a cluster still
// electing its leaders, one takes a while to start.
func (r *rig) waitAPI() {
	r.t.Helper()
	natstest.Eventually(r.t, readiness, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := r.client.List(ctx, 1)
		return err
	})
}

// awaitReady waits until every one of procs has logged that it serves: a coordinator answers the
// API and a worker pulls jobs once their start line is written.
func awaitReady(t *testing.T, procs ...*proc) {
	t.Helper()
	natstest.Eventually(t, readiness, func() error {
		for _, p := range procs {
			text := p.logText()
			if !strings.Contains(text, `msg="coordinator started"`) && !strings.Contains(text, `msg="worker started"`) {
				return fmt.Errorf("%s has not started yet", p.name)
			}
		}
		return nil
	})
}

// kill SIGKILLs the process and waits for it to be gone.
func (p *proc) kill() {
	p.sigkilled.Store(true)
	p.signal(syscall.SIGKILL)
	<-p.done
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logText is the process's log so far.
func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// rig is a fleetbook deployment under test: a server (URL list), the processes started against
// it, a client, and the effect ledger every ledger step writes to.
type rig struct {
	t        *testing.T
	url      string
	lease    time.Duration
	replicas int
	nc       *nats.Conn
	client   *coordinator.Client
	ledger   string
	// workers are the worker processes started, by name, so the checker can tell whether the
	// worker that did an effect was killed before it stored the result.
	workersMu sync.Mutex
	workers   map[string]*proc
}

// newRig connects to url (reconnecting forever, so the server may be killed) with test timings:
// coordinator lease and worker AckWait 2s.
func newRig(t *testing.T, url string) *rig {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	client, err := coordinator.NewClient(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, url: url, lease: 2 * time.Second, replicas: 1, nc: nc, client: client,
		ledger: filepath.Join(t.TempDir(), "ledger"), workers: map[string]*proc{}}
}

func (r *rig) serviceArgs(kind, name string) []string {
	// The rows test durability on servers without authentication (the auth package and
	// cmd/fleetbook's secured tests prove the permissions): the services are told so.
	return []string{kind, "--no-auth", "--server", r.url, "--name", name, "--lease", r.lease.String(), "--replicas", strconv.Itoa(r.replicas)}
}

// coordinator starts a coordinator process.
func (r *rig) coordinator(name string, extra ...string) *proc {
	return startProc(r.t, name, append(r.serviceArgs("coordinator", name), extra...)...)
}

// worker starts a worker process.
func (r *rig) worker(name string, extra ...string) *proc {
	p := startProc(r.t, name, append(r.serviceArgs("worker", name), extra...)...)
	r.workersMu.Lock()
	r.workers[name] = p
	r.workersMu.Unlock()
	return p
}

// diedInWindow reports whether the effect of run's step that worker wrote falls in the
// documented at-least-once window (docs/reliability.md): the worker was SIGKILLed by the test
// and never logged that it finished the job (which it logs once the result is stored), so the
// step had to run again. Anything else that doubled an effect is a bug.
func (r *rig) diedInWindow(worker, run string, step int) bool {
	r.workersMu.Lock()
	p := r.workers[worker]
	r.workersMu.Unlock()
	if p == nil || !p.sigkilled.Load() {
		return false
	}
	finished := fmt.Sprintf(`job=%s/%d/`, run, step)
	for _, line := range strings.Split(p.logText(), "\n") {
		if strings.Contains(line, `msg="job finished"`) && strings.Contains(line, finished) {
			return false
		}
	}
	return true
}

// submit submits doc under key and returns the run id; the error is whatever the API said.
func (r *rig) submit(ctx context.Context, doc, key string, inputs map[string]any) (string, error) {
	if inputs == nil {
		inputs = map[string]any{}
	}
	if _, ok := inputs["ledger"]; !ok {
		inputs["ledger"] = r.ledger
	}
	resp, err := r.client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, Source: "faults.yaml", Inputs: inputs, IdempotencyKey: key})
	if err != nil {
		return "", err
	}
	return resp.RunID, nil
}

// mustSubmit submits doc under a fresh key and fails the test if it is not accepted.
func (r *rig) mustSubmit(doc string, inputs map[string]any) string {
	r.t.Helper()
	// Submit retries, under one idempotency key, until a coordinator answers: a generous deadline
	// is the readiness wait of rows that start their coordinator just before.
	ctx, cancel := context.WithTimeout(context.Background(), readiness)
	defer cancel()
	id, err := r.submit(ctx, doc, fmt.Sprintf("%s-%d", r.t.Name(), time.Now().UnixNano()), inputs)
	if err != nil {
		r.t.Fatalf("submit: %v", err)
	}
	return id
}

// report returns run id's report, nil when it cannot be read right now.
func (r *rig) report(id string) (*protocol.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.client.Get(ctx, id)
}

// waitFinal waits until every run in ids is final, and returns their reports.
func (r *rig) waitFinal(ids []string, within time.Duration) map[string]*protocol.Report {
	r.t.Helper()
	out := map[string]*protocol.Report{}
	natstest.Eventually(r.t, within, func() error {
		for _, id := range ids {
			if out[id] != nil {
				continue
			}
			rep, err := r.report(id)
			if err != nil {
				return fmt.Errorf("run %s: %w", id, err)
			}
			if !rep.Status.Final() {
				return fmt.Errorf("run %s is %s (%d of %d runs final)", id, rep.Status, len(out), len(ids))
			}
			out[id] = rep
		}
		return nil
	})
	return out
}

// book is a linear playbook of ledger steps (fleettest.LedgerPlaybook): each appends "start RUN
// STEP ATTEMPT PID" to the ledger, runs body, and appends "done RUN STEP" as its very last act:
// the done line is the step's effect. extra holds task keys (like "tries: 3") added to every step.
func book(steps int, body string, extra ...string) string {
	return fleettest.LedgerPlaybook(steps, `echo "start $FLEETBOOK_RUN_ID $FLEETBOOK_STEP $FLEETBOOK_ATTEMPT $$" >> "$LEDGER"; `+
		body+`; echo "done $FLEETBOOK_RUN_ID $FLEETBOOK_STEP $FLEETBOOK_WORKER" >> "$LEDGER"`, extra...)
}

// doneBy lists the workers that wrote run's step's effect, in order.
func doneBy(es []entry, run string, step int) []string {
	var out []string
	for _, e := range es {
		if e.kind == "done" && e.run == run && e.step == step {
			w := ""
			if len(e.extra) > 0 {
				w = e.extra[0]
			}
			out = append(out, w)
		}
	}
	return out
}

// sleepBody is the step body that sleeps inputs.sleep seconds.
const sleepBody = `sleep "$SLEEP"`

// entry is one ledger line.
type entry struct {
	kind  string // start or done
	run   string
	step  int
	extra []string
}

// readLedger parses the ledger in the order its lines were appended.
func readLedger(t *testing.T, path string) []entry {
	t.Helper()
	var out []entry
	for _, line := range fleettest.LedgerLines(t, path) {
		fs := strings.Fields(line)
		if len(fs) < 3 {
			continue // a line cut by a kill mid-write
		}
		step, err := strconv.Atoi(fs[2])
		if err != nil {
			continue
		}
		out = append(out, entry{kind: fs[0], run: fs[1], step: step, extra: fs[3:]})
	}
	return out
}

// count is how often kind was written for run's step.
func count(es []entry, kind, run string, step int) int {
	n := 0
	for _, e := range es {
		if e.kind == kind && e.run == run && e.step == step {
			n++
		}
	}
	return n
}

// verdict is what the checker found.
type verdict struct {
	runs, lost, notSucceeded, duplicateEffects, missingEffects, orderViolations, attempts int
	// repeatedInWindow counts effects done again because the worker that did them was killed
	// after the effect and before it stored the result: the documented at-least-once window,
	// reported, not a failure.
	repeatedInWindow int
	problems         []string
}

func (v verdict) String() string {
	return fmt.Sprintf("runs=%d lost=%d not_succeeded=%d duplicate_effects=%d missing_effects=%d order_violations=%d step_attempts=%d repeated_in_window=%d",
		v.runs, v.lost, v.notSucceeded, v.duplicateEffects, v.missingEffects, v.orderViolations, v.attempts, v.repeatedInWindow)
}

// ok reports whether nothing was lost, doubled, missing or out of order.
func (v verdict) ok() bool {
	return v.lost == 0 && v.notSucceeded == 0 && v.duplicateEffects == 0 && v.missingEffects == 0 && v.orderViolations == 0
}

// check is the history checker: every accepted run (ids) must exist and have succeeded with each
// of its steps' effects exactly once; no step may start before the step before it was done; no
// effect may belong to a run that was not accepted.
func (r *rig) check(ids []string, steps int, reports map[string]*protocol.Report) verdict {
	r.t.Helper()
	es := readLedger(r.t, r.ledger)
	v := verdict{runs: len(ids)}
	accepted := map[string]bool{}
	for _, id := range ids {
		accepted[id] = true
		rep := reports[id]
		switch {
		case rep == nil:
			v.lost++
			v.problems = append(v.problems, "lost run "+id)
			continue
		case rep.Status != protocol.StatusSuccess:
			v.notSucceeded++
			v.problems = append(v.problems, fmt.Sprintf("run %s ended %s: %s", id, rep.Status, rep.Error))
		}
		for s := 1; s <= steps; s++ {
			switch n := count(es, "done", id, s); {
			case n > 1:
				// Every effect but the last must have been cut off from its result by a kill.
				by := doneBy(es, id, s)
				excused := true
				for _, w := range by[:len(by)-1] {
					excused = excused && r.diedInWindow(w, id, s)
				}
				if excused {
					v.repeatedInWindow += n - 1
					continue
				}
				v.duplicateEffects += n - 1
				v.problems = append(v.problems, fmt.Sprintf("run %s step %d: effect %d times, by %v", id, s, n, by))
			case n == 0 && rep.Status == protocol.StatusSuccess:
				v.missingEffects++
				v.problems = append(v.problems, fmt.Sprintf("run %s step %d: no effect", id, s))
			}
		}
	}
	done := map[string]map[int]bool{}
	for _, e := range es {
		if !accepted[e.run] {
			v.problems = append(v.problems, fmt.Sprintf("effect of a run never accepted: %s %s %d", e.kind, e.run, e.step))
			v.duplicateEffects++
			continue
		}
		if done[e.run] == nil {
			done[e.run] = map[int]bool{}
		}
		switch e.kind {
		case "start":
			v.attempts++
			if e.step > 1 && !done[e.run][e.step-1] {
				v.orderViolations++
				v.problems = append(v.problems, fmt.Sprintf("run %s step %d started before step %d was done", e.run, e.step, e.step-1))
			}
		case "done":
			done[e.run][e.step] = true
		}
	}
	return v
}

// requireOK fails the test with the checker's findings unless the verdict is clean.
func requireOK(t *testing.T, row string, v verdict) {
	t.Helper()
	t.Logf("ROW %s: %s", row, v)
	if !v.ok() {
		if len(v.problems) > 20 {
			v.problems = v.problems[:20]
		}
		t.Fatalf("%s: %s\n%s", row, v, strings.Join(v.problems, "\n"))
	}
}

// waitLedger waits until the ledger has a line for which match is true.
func (r *rig) waitLedger(within time.Duration, what string, match func(entry) bool) entry {
	r.t.Helper()
	var got entry
	natstest.Eventually(r.t, within, func() error {
		for _, e := range readLedger(r.t, r.ledger) {
			if match(e) {
				got = e
				return nil
			}
		}
		return errors.New(what + " not in the ledger yet")
	})
	return got
}

// supervise keeps a process running: start is called again whenever the last one exited, until
// the test ends or stop is called. It returns how many times it started one.
func supervise(t *testing.T, start func(n int) *proc) (stop func() int) {
	var mu sync.Mutex
	n := 0
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			mu.Lock()
			n++
			p := start(n)
			mu.Unlock()
			select {
			case <-p.done:
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	stop = func() int {
		once.Do(func() { close(quit); <-done })
		mu.Lock()
		defer mu.Unlock()
		return n
	}
	t.Cleanup(func() { stop() })
	return stop
}

// since formats the time since t0 for the row logs.
func since(t0 time.Time) string { return time.Since(t0).Round(10 * time.Millisecond).String() }

// The checker excuses a doubled effect only in the documented window: the worker that did the
// first one was SIGKILLed by the test and never logged that it finished the job.
func TestCheckerExcusesOnlyTheKilledWindow(t *testing.T) {
	const run = "01a2384e-5fea-7f2c-a981-d3b382b74af8"
	for _, tc := range []struct {
		name      string
		killed    bool
		finished  bool
		duplicate int
		excused   int
	}{
		{"not killed", false, false, 1, 0},
		{"killed after it stored the result", true, true, 1, 0},
		{"killed between effect and result", true, false, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := &rig{t: t, ledger: filepath.Join(dir, "ledger"), workers: map[string]*proc{}}
			w1 := &proc{name: "w1", log: filepath.Join(dir, "w1.log")}
			w1.sigkilled.Store(tc.killed)
			log := "time=x level=INFO msg=\"worker started\"\n"
			if tc.finished {
				log += fmt.Sprintf("time=x level=INFO msg=\"job finished\" job=%s/1/1/0 success=true\n", run)
			}
			if err := os.WriteFile(w1.log, []byte(log), 0o644); err != nil {
				t.Fatal(err)
			}
			r.workers["w1"], r.workers["w2"] = w1, &proc{name: "w2", log: filepath.Join(dir, "w2.log")}
			ledger := fmt.Sprintf("start %s 1 1 10\ndone %s 1 w1\nstart %s 1 1 11\ndone %s 1 w2\n", run, run, run, run)
			if err := os.WriteFile(r.ledger, []byte(ledger), 0o644); err != nil {
				t.Fatal(err)
			}
			v := r.check([]string{run}, 1, map[string]*protocol.Report{run: {ID: run, Status: protocol.StatusSuccess}})
			if v.duplicateEffects != tc.duplicate || v.repeatedInWindow != tc.excused {
				t.Fatalf("%s: want duplicate_effects=%d repeated_in_window=%d", v, tc.duplicate, tc.excused)
			}
		})
	}
}
