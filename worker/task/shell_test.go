package task

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

func TestShellBackgroundChildDoesNotHoldTheJob(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	spec := &protocol.ShellSpec{Command: `sleep 60 & echo $! > "$PIDS"; echo done`}
	out := runShell(context.Background(), spec, append(os.Environ(), "PIDS="+pids), 5*time.Second)
	if !out.success || out.output != "done\n" {
		t.Fatalf("outcome: %+v", out)
	}
	pid := natstest.ReadPids(t, pids)[0]
	natstest.Eventually(t, wait, func() error {
		if !natstest.ProcessGone(pid) {
			return fmt.Errorf("background child %d outlived its job", pid)
		}
		return nil
	})
}

func TestShellEscapedProcessHoldingPipeIsBounded(t *testing.T) {
	if _, err := os.Stat("/usr/bin/setsid"); err != nil {
		t.Skip("setsid not available")
	}
	pids := filepath.Join(t.TempDir(), "pids")
	// setsid leaves the group, so killing the group cannot reach it; it keeps stdout open.
	spec := &protocol.ShellSpec{Command: `setsid sh -c 'echo $$ > "$PIDS"; exec sleep 60' & sleep 0.2; echo done`}
	out := runShell(context.Background(), spec, append(os.Environ(), "PIDS="+pids), 100*time.Millisecond)
	natstest.Eventually(t, wait, func() error { _, err := os.Stat(pids); return err })
	for _, pid := range natstest.ReadPids(t, pids) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !out.success || out.output != "done\n" {
		t.Errorf("outcome: %+v", out)
	}
}

func TestShellInterruptedByContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pids := filepath.Join(t.TempDir(), "pids")
	done := make(chan shellOutcome, 1)
	go func() {
		spec := &protocol.ShellSpec{Command: `echo $$ > "$PIDS.tmp"; mv "$PIDS.tmp" "$PIDS"; sleep 60`}
		done <- runShell(ctx, spec, append(os.Environ(), "PIDS="+pids), time.Second)
	}()
	natstest.Eventually(t, wait, func() error { _, err := os.Stat(pids); return err })
	cancel()
	out := <-done
	if !out.interrupted {
		t.Errorf("outcome: %+v", out)
	}
	if pid := natstest.ReadPids(t, pids)[0]; !natstest.ProcessGone(pid) {
		t.Errorf("shell %d survived the interruption", pid)
	}
}

func TestShellOutputIsCapped(t *testing.T) {
	spec := &protocol.ShellSpec{Command: `echo BEGIN; head -c 600000 /dev/zero | tr '\0' x; echo; echo END`}
	out := runShell(context.Background(), spec, os.Environ(), time.Second)
	if !out.success {
		t.Fatalf("outcome: %+v", out)
	}
	if !strings.HasPrefix(out.output, "BEGIN\n") || !strings.HasSuffix(out.output, "\nEND\n") {
		t.Errorf("head or tail lost: %q ... %q", out.output[:20], out.output[len(out.output)-20:])
	}
	total := len("BEGIN\n") + 600000 + len("\nEND\n")
	marker := fmt.Sprintf("[... %d bytes omitted ...]", total-maxOutput)
	if !strings.Contains(out.output, marker) {
		t.Errorf("marker %q missing", marker)
	}
	if len(out.output) > maxOutput+100 {
		t.Errorf("output %d bytes, cap %d", len(out.output), maxOutput)
	}
}

func TestShellRejectsBadEnvironmentNames(t *testing.T) {
	for _, env := range []map[string]string{{"A=B": "x"}, {"": "x"}, {"A": "x\x00y"}} {
		job := protocol.Job{ID: protocol.JobID{RunID: "r1", Step: 1, Attempt: 1}, Shell: &protocol.ShellSpec{Command: "true", Environment: env}}
		if _, err := shellEnv(&job, "w"); err == nil {
			t.Errorf("environment %q accepted", env)
		}
	}
}

// TestShellJobRefusesValueAsCode: a job whose command hands a templated value to an evaluator
// (one the coordinator would never render, as a forged or stale job could carry) does not run;
// the same value as a plain argument does, byte for byte.
func TestShellJobRefusesValueAsCode(t *testing.T) {
	canary := filepath.Join(t.TempDir(), "canary")
	value := "touch " + canary
	job := protocol.Job{ID: protocol.JobID{RunID: "r1", Step: 1, Attempt: 1}, Type: protocol.TaskShell,
		Shell: &protocol.ShellSpec{Command: `sh -c "${FLEETBOOK_TPL_1}"`, Environment: map[string]string{"FLEETBOOK_TPL_1": value}}}
	res, err := runShellJob(context.Background(), Env{Worker: "w", DrainWait: time.Second}, &job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Success || !strings.Contains(res.Msg, "refused") || !strings.Contains(res.Msg, "FLEETBOOK_TPL_1") {
		t.Fatalf("result %+v, want a refusal naming the variable", res)
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("the canary was created: the value ran as code")
	}
	job.Shell.Command = `printf '%s' "${FLEETBOOK_TPL_1}"`
	res, err = runShellJob(context.Background(), Env{Worker: "w", DrainWait: time.Second}, &job)
	if err != nil || !res.Success || res.Data != value {
		t.Fatalf("result %+v %v, want the value echoed", res, err)
	}
}

// A shell task does not inherit the worker's NATS connection and credentials from the
// environment: with them it could reach fleetbook's state with the worker's rights.
func TestShellTaskGetsNoNATSCredentials(t *testing.T) {
	t.Setenv("NATS_PASSWORD", "s3cret")
	t.Setenv("NATS_URL", "nats://worker:s3cret@127.0.0.1:4222")
	t.Setenv("PBTEST_KEPT", "kept")
	job := protocol.Job{ID: protocol.JobID{RunID: "r1", Step: 1, Attempt: 1}, Type: protocol.TaskShell,
		Shell: &protocol.ShellSpec{Command: `echo "pw=${NATS_PASSWORD:-unset} url=${NATS_URL:-unset} kept=$PBTEST_KEPT"`}}
	res, err := runShellJob(context.Background(), Env{Worker: "w", DrainWait: time.Second}, &job)
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprint(res.Data); !res.Success || !strings.Contains(out, "pw=unset url=unset kept=kept") {
		t.Fatalf("result %+v: the task saw the worker's NATS settings, or lost the rest of its environment", res)
	}
}
