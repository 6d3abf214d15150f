package main

// Process-level tests: they build the fleetbook binary once and run it as users and operators do,
// killing coordinators and workers with SIGKILL where a test says so.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/fleettest"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// binary is the fleetbook binary TestMain built for this package's tests.
var binary string

func TestMain(m *testing.M) { fleettest.Main(m, &binary) }

// result is what one finished fleetbook command gave.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs fleetbook with args in dir (the test's temp dir when empty) and waits for it.
func cli(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return cliEnv(t, dir, nil, args...)
}

// cliEnv is cli with extra environment variables (NAME=VALUE).
func cliEnv(t *testing.T, dir string, extra []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = t.TempDir()
	}
	cmd.Env = append(testEnv(), extra...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("fleetbook %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// testEnv is the environment of every fleetbook process: the test's, without the nats CLI's
// variables and with a configuration directory of its own, so that neither a NATS_URL nor a nats
// context selected on the machine running the tests points the processes at another server.
func testEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NATS_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "XDG_CONFIG_HOME="+emptyConfigHome)
}

// emptyConfigHome is the XDG_CONFIG_HOME of the test processes: no nats context is selected
// there. TestMain's temporary directory outlives every test.
var emptyConfigHome = filepath.Join(os.TempDir(), fmt.Sprintf("fleetbook-test-config-%d", os.Getpid()))

// proc is a long-running fleetbook process (coordinator, worker, up).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// start starts a fleetbook process that lives until the test ends (or is killed), logging to a
// file that is printed if the test fails.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = testEnv()
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("--- log of %s (%s):\n%s", name, strings.Join(args, " "), b)
		}
	})
	return p
}

// kill sends sig and waits for the process to exit.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	<-p.done
}

// stop asks the process to shut down cleanly and fails the test if it does not exit 0.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.kill(syscall.SIGTERM)
	if p.err != nil {
		t.Errorf("%s did not stop cleanly: %v", p.name, p.err)
	}
}

// fleet is an embedded NATS server in the test process with fleetbook processes around it.
type fleet struct {
	t      *testing.T
	srv    *server.Server
	url    string
	client *coordinator.Client
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	srv := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, srv.ClientURL())
	client, err := coordinator.NewClient(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &fleet{t: t, srv: srv, url: srv.ClientURL(), client: client}
}

// coordinator starts a coordinator process named name.
func (f *fleet) coordinator(name string, lease time.Duration) *proc {
	return start(f.t, name, "coordinator", "--no-auth", "--server", f.url, "--name", name, "--lease", lease.String())
}

// worker starts a worker process named name.
func (f *fleet) worker(name string, lease time.Duration) *proc {
	return start(f.t, name, "worker", "--no-auth", "--server", f.url, "--name", name, "--lease", lease.String())
}

// submit submits playbook doc with inputs and returns the run id.
func (f *fleet) submit(doc string, inputs map[string]any) string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := f.client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, Source: "test.yaml", Inputs: inputs,
		IdempotencyKey: fmt.Sprintf("test-%d", time.Now().UnixNano())})
	if err != nil {
		f.t.Fatalf("submit: %v", err)
	}
	return resp.RunID
}

// waitFinal waits for run id to end and returns its report.
func (f *fleet) waitFinal(id string, within time.Duration) *protocol.Report {
	f.t.Helper()
	var r *protocol.Report
	natstest.Eventually(f.t, within, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := f.client.Get(ctx, id)
		if err != nil {
			return err
		}
		if !got.Status.Final() {
			return fmt.Errorf("run %s is %s", id, got.Status)
		}
		r = got
		return nil
	})
	return r
}

// ledgerStep is the command of the ledger steps (fleettest.LedgerPlaybook) of these tests: it
// appends "RUN STEP start" to the ledger file, sleeps inputs.sleep seconds, and appends "RUN STEP
// done" at its very end: the done line is the step's effect.
const ledgerStep = `echo "$FLEETBOOK_RUN_ID $FLEETBOOK_STEP start" >> "$LEDGER"; sleep "$SLEEP"; echo "$FLEETBOOK_RUN_ID $FLEETBOOK_STEP done" >> "$LEDGER"`

// ledger counts the lines of a ledger file: "RUN STEP start|done" → how often it was written.
func ledger(t *testing.T, path string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, line := range fleettest.LedgerLines(t, path) {
		counts[line]++
	}
	return counts
}

// checkOnce fails the test unless every step 1..steps of every run wrote its done line exactly
// once, and nothing else wrote one.
func checkOnce(t *testing.T, counts map[string]int, runs []string, steps int) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range runs {
		for s := 1; s <= steps; s++ {
			line := fmt.Sprintf("%s %d done", id, s)
			want[line] = true
			if n := counts[line]; n != 1 {
				t.Errorf("%q written %d times, want once", line, n)
			}
		}
	}
	for line, n := range counts {
		if strings.HasSuffix(line, " done") && !want[line] {
			t.Errorf("unexpected effect %q (%d times)", line, n)
		}
	}
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
