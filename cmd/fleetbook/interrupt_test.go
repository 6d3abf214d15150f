package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
)

// interruptBook is a playbook with a long step, failure hooks and a lock: the first on_fail hook
// sleeps HOOK_SLEEP seconds the first time it runs (a marker file remembers it ran).
const interruptBook = `name: interruptible
version: "1.0.0"
author: "fleetbook tests"
description: "A long step with hooks and a lock"
inputs:
  ledger:
    description: "file the steps append to"
    type: String
  hook_sleep:
    description: "seconds the on_fail hook sleeps the first time"
    type: String
    required: false
    default: "0"
data_stores:
  team:
    type: kv
    timeout: 10s
locks:
  - team/locks/shared
tasks:
  - shell:
      description: "long step"
      command: 'echo "step start" >> "$LEDGER"; sleep 60; echo "step done" >> "$LEDGER"'
      environment:
        LEDGER: "{{{ inputs.ledger }}}"
hooks:
  on_fail:
    - shell:
        description: "on_fail hook"
        command: 'echo "on_fail" >> "$LEDGER"; if [ ! -e "$LEDGER.slept" ]; then touch "$LEDGER.slept"; sleep "$S"; fi'
        environment:
          LEDGER: "{{{ inputs.ledger }}}"
          S: "{{{ inputs.hook_sleep }}}"
  post_book:
    - shell:
        description: "post_book hook"
        command: 'echo "post_book" >> "$LEDGER"'
        environment:
          LEDGER: "{{{ inputs.ledger }}}"
`

// quickLocked takes the same lock and ends at once.
const quickLocked = `name: quick
version: "1.0.0"
author: "fleetbook tests"
description: "Takes the shared lock"
data_stores:
  team:
    type: kv
    timeout: 10s
locks:
  - team/locks/shared
tasks:
  - shell:
      description: "quick"
      command: "true"
`

// waitLedger waits until the ledger at path has line.
func waitLedger(t *testing.T, path, line string) {
	t.Helper()
	natstest.Eventually(t, 60*time.Second, func() error {
		if ledger(t, path)[line] == 0 {
			return fmt.Errorf("no %q in the ledger yet", line)
		}
		return nil
	})
}

// waitExit waits for p to exit and returns its exit code.
func waitExit(t *testing.T, p *proc, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s did not exit within %s", p.name, within)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%s: %v", p.name, p.err)
	}
	return 0
}

func logOf(t *testing.T, p *proc) string {
	t.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The first Ctrl-C on `run` cancels the run: its step stops, on_fail and post_book run, its lock
// is released, and the command ends with the cancelled report (exit 1).
func TestCtrlCCancelsTheRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state, path := filepath.Join(dir, "state"), filepath.Join(dir, "ledger")
	book := writeFile(t, dir, "book.yaml", interruptBook)
	p := start(t, "run", "run", book, "--embedded", "--data-dir", state, "--input", "ledger="+path, "--json")
	waitLedger(t, path, "step start")
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if code := waitExit(t, p, 90*time.Second); code != exitFailed {
		t.Errorf("exit %d, want 1 (the run was cancelled)", code)
	}
	out := logOf(t, p)
	if !strings.Contains(out, `"status": "cancelled"`) || !strings.Contains(out, "cancelling run") {
		t.Errorf("the command did not say it cancels and report the run cancelled:\n%s", out)
	}
	counts := ledger(t, path)
	if counts["on_fail"] != 1 || counts["post_book"] != 1 || counts["step done"] != 0 {
		t.Errorf("ledger %v: want the step stopped and on_fail and post_book run once", counts)
	}
	// The lock went with the run: another run takes it at once (within the store's 10 s timeout,
	// while a lock left held would live for its 30 s lease).
	quick := writeFile(t, dir, "quick.yaml", quickLocked)
	if r := cli(t, dir, "run", quick, "--embedded", "--data-dir", state); r.code != exitOK {
		t.Errorf("a run taking the same lock: exit %d: %s", r.code, r.stderr)
	}
}

// A second Ctrl-C leaves at once, with the run interrupted; the command printed works as written,
// and `fleetbook up` on the data dir resumes the run to its end.
func TestSecondCtrlCLeavesTheRunResumable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state, path := filepath.Join(dir, "state"), filepath.Join(dir, "ledger")
	book := writeFile(t, dir, "book.yaml", interruptBook)
	p := start(t, "run", "run", book, "--embedded", "--data-dir", state, "--input", "ledger="+path, "--input", "hook_sleep=120")
	waitLedger(t, path, "step start")
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	waitLedger(t, path, "on_fail") // the cancellation runs the hook, which now sleeps
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if code := waitExit(t, p, 30*time.Second); code != exitInfra {
		t.Errorf("exit %d after the second Ctrl-C, want 3", code)
	}
	out := logOf(t, p)
	m := regexp.MustCompile(`see it: +fleetbook (runs show \S+ --embedded --data-dir \S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "resume it: fleetbook up --data-dir "+state) {
		t.Fatalf("the command did not say how to see and resume the run:\n%s", out)
	}
	r := cli(t, dir, strings.Fields(m[1]+" --json")...)
	if r.code != exitOK || !strings.Contains(r.stdout, `"status": "running"`) {
		t.Fatalf("the printed command: exit %d, want 0 and the run interrupted (running, not driven)\n%s%s", r.code, r.stdout, r.stderr)
	}
	id := strings.Fields(m[1])[2]
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	startUp(t, dir, state, listen)
	server := []string{"--context", filepath.Join(state, "auth", "context.json")}
	natstest.Eventually(t, 120*time.Second, func() error {
		r := cli(t, dir, append([]string{"runs", "show", id, "--json"}, server...)...)
		if !strings.Contains(r.stdout, `"status": "cancelled"`) {
			return fmt.Errorf("run %s not resumed to its end: %s%s", id, r.stdout, r.stderr)
		}
		return nil
	})
	if counts := ledger(t, path); counts["post_book"] != 1 || counts["step done"] != 0 {
		t.Errorf("ledger %v: want the resumed run to end its hooks, post_book once", counts)
	}
}
