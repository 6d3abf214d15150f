package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// cli runs the fleetbook command line and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "NATS_URL=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("fleetbook %s: %v", strings.Join(args, " "), err)
	return 0, ""
}

// cancelBook sleeps in its one task, and writes its hooks' runs to the ledger.
const cancelBook = `name: cancel_me
version: "1.0.0"
author: "fleetbook fault suite"
description: "A long step to cancel"
inputs:
  ledger:
    description: "ledger file"
    type: String
tasks:
  - shell:
      description: "sleep"
      command: 'echo "start $FLEETBOOK_RUN_ID 1 1 $$" >> "$LEDGER"; sleep 300; echo "done $FLEETBOOK_RUN_ID 1" >> "$LEDGER"'
      environment:
        LEDGER: "{{{ inputs.ledger }}}"
hooks:
  on_fail:
    - shell:
        command: 'echo "hook $FLEETBOOK_RUN_ID 0 on_fail" >> "$LEDGER"'
        environment:
          LEDGER: "{{{ inputs.ledger }}}"
  post_book:
    - shell:
        command: 'echo "hook $FLEETBOOK_RUN_ID 0 post_book" >> "$LEDGER"'
        environment:
          LEDGER: "{{{ inputs.ledger }}}"
`

// fleetbook runs cancel on a run whose shell step sleeps: the sleeping process group is killed,
// the run ends cancelled, and on_fail and post_book run.
func TestCancelKillsTheStepsProcesses(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	r.worker("w1")
	id := r.mustSubmit(cancelBook, nil)
	st := r.waitLedger(time.Minute, "step start", func(e entry) bool { return e.kind == "start" })
	pid, err := strconv.Atoi(st.extra[1])
	if err != nil {
		t.Fatal(err)
	}

	code, out := cli(t, "runs", "cancel", id, "--server", r.url, "--reason", "wrong tier")
	if code != 0 {
		t.Fatalf("runs cancel exited %d: %s", code, out)
	}
	rep := r.waitFinal([]string{id}, time.Minute)[id]
	if rep.Status != protocol.StatusCancelled {
		t.Fatalf("run ended %s: %s", rep.Status, rep.Error)
	}
	natstest.Eventually(t, 10*time.Second, func() error {
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("the step's process group %d still exists (%v)", pid, err)
		}
		return nil
	})
	es := readLedger(t, r.ledger)
	var hooks []string
	for _, e := range es {
		if e.kind == "hook" {
			hooks = append(hooks, e.extra[0])
		}
	}
	if strings.Join(hooks, ",") != "on_fail,post_book" {
		t.Errorf("hooks ran: %v, want on_fail then post_book; report tasks %+v", hooks, rep.Tasks)
	}
	if count(es, "done", id, 1) != 0 {
		t.Errorf("the cancelled step finished")
	}
	t.Logf("ROW cancel: run cancelled, step's process group gone, hooks %v", hooks)
}

// L5: with the run queue bounded (--max-queued-runs 5) and no worker, 5 runs are accepted and the
// 6th submit is refused with QUEUE_FULL (exit 3 from the CLI) storing nothing. When workers come,
// every accepted run completes.
func TestL5BackPressure(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1", "--max-queued-runs", "5")
	const accepted = 5
	doc := book(2, sleepBody)
	var ids []string
	for range accepted {
		ids = append(ids, r.mustSubmit(doc, nil))
	}
	path := t.TempDir() + "/book.yaml"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := cli(t, "run", path, "--server", r.url, "--input", "ledger="+r.ledger, "--detach")
	if code != 3 || !strings.Contains(out, "queue is full") {
		t.Fatalf("submit into a full queue: exit %d: %s", code, out)
	}
	list, err := r.client.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != accepted {
		t.Errorf("%d runs stored, want the %d accepted", len(list), accepted)
	}
	r.worker("w1")
	reports := r.waitFinal(ids, time.Minute)
	t.Logf("ROW L5: %d accepted, 6th refused with exit %d (%s), %d runs stored", accepted, code, strings.TrimSpace(out), len(list))
	requireOK(t, "L5", r.check(ids, 2, reports))
}

// L6: a step printing 3 MiB, far over the server's 1 MiB max_payload: its output is capped, the
// run succeeds and its state stays readable.
func TestL6OversizedOutput(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	r.worker("w1")
	id := r.mustSubmit(book(2, onStep(1, `head -c 3145728 /dev/zero | tr "\\000" x`)), nil)
	reports := r.waitFinal([]string{id}, time.Minute)
	rep := reports[id]
	data, _ := rep.Tasks[0].Data.(string)
	if len(data) == 0 || len(data) > 1<<20 {
		t.Errorf("step 1 output of %d bytes kept, want a capped, non-empty output", len(data))
	}
	t.Logf("ROW L6: 3 MiB of output; %d bytes kept in the report; run %s", len(data), rep.Status)
	requireOK(t, "L6", r.check([]string{id}, 2, reports))
}
