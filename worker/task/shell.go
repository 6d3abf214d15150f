package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/process"
)

// shellOutcome is what running one command gave.
type shellOutcome struct {
	success  bool
	msg      string
	output   string
	exitCode int
	// interrupted is set when ctx ended the command: it has no outcome worth reporting.
	interrupted bool
}

// runShellJob runs a shell job and turns its outcome into a Result, or ErrInterrupted when the
// shutdown grace ran out while it ran.
func runShellJob(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	res := env.NewResult(job, time.Now().UTC())
	if job.Shell == nil {
		res.Msg = "shell job has no shell spec"
		res.ExitCode = -1
		return res, nil
	}
	// The last line of defence: the coordinator rendered the command so that templated values are
	// data; a command that would still hand one to an evaluator never runs (see playbooks).
	if err := playbooks.CheckRenderedShell(job.Shell.Command); err != nil {
		res.Msg = "Command refused: " + err.Error()
		res.ExitCode = -1
		return res, nil
	}
	vars, err := shellEnv(job, env.Worker)
	if err != nil {
		res.Msg = err.Error()
		res.ExitCode = -1
		return res, nil
	}
	out := runShell(ctx, job.Shell, vars, env.DrainWait)
	if out.interrupted {
		return protocol.Result{}, ErrInterrupted
	}
	res.EndedAt = time.Now().UTC()
	res.Success = out.success
	res.Msg = out.msg
	res.Data = out.output
	res.ExitCode = out.exitCode
	return res, nil
}

// shellEnv is the environment of a shell job: the worker's, then the job's variables, then
// fleetbook's own, which win (exec keeps the last value of a repeated name).
func shellEnv(job *protocol.Job, worker string) ([]string, error) {
	env := protocol.ProgramEnviron(os.Environ())
	for _, k := range slices.Sorted(maps.Keys(job.Shell.Environment)) {
		v := job.Shell.Environment[k]
		// Values are never echoed: they may be secrets.
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return nil, fmt.Errorf("invalid environment variable name %q: it must be non-empty and contain no '=' or NUL", k)
		case strings.ContainsRune(v, 0):
			return nil, fmt.Errorf("invalid value of environment variable %s: it contains a NUL byte", k)
		}
		env = append(env, k+"="+v)
	}
	return append(env,
		"FLEETBOOK_RUN_ID="+job.ID.RunID,
		"FLEETBOOK_STEP="+strconv.Itoa(job.ID.Step),
		"FLEETBOOK_ATTEMPT="+strconv.Itoa(job.ID.Attempt),
		"FLEETBOOK_PLAYBOOK="+job.Playbook,
		"FLEETBOOK_WORKER="+worker,
	), nil
}

// runShell runs spec.Command with /bin/sh -c in its own process group. The command, and every
// process it starts in its group, is gone when runShell returns: on success, failure, timeout or
// ctx cancellation alike, so no step leaves processes behind holding resources or its output.
// drainWait bounds how long output is still read from a process that left the group (setsid) but
// kept the output pipe open.
func runShell(ctx context.Context, spec *protocol.ShellSpec, env []string, drainWait time.Duration) shellOutcome {
	if spec.Cwd != "" {
		fi, err := os.Stat(spec.Cwd)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return shellOutcome{msg: fmt.Sprintf("Working directory %s does not exist", spec.Cwd), exitCode: -1}
		case err != nil:
			return shellOutcome{msg: fmt.Sprintf("Working directory %s is not usable: %v", spec.Cwd, err), exitCode: -1}
		case !fi.IsDir():
			return shellOutcome{msg: fmt.Sprintf("Working directory %s is not a directory", spec.Cwd), exitCode: -1}
		}
	}

	// One pipe for stdout and stderr keeps their lines in the order they were written. It is our
	// own rather than exec's so that Wait returns when the shell exits, not when the last holder of
	// the pipe closes it: a background grandchild must not hang the worker.
	pr, pw, err := os.Pipe()
	if err != nil {
		return shellOutcome{msg: fmt.Sprintf("Command could not start: %v", err), exitCode: -1}
	}
	defer pr.Close()

	cmd := exec.Command("/bin/sh", "-c", spec.Command)
	cmd.Dir = spec.Cwd
	cmd.Env = env
	if filepath.IsAbs(spec.Cwd) {
		// The worker's own PWD would otherwise be inherited and believed by the shell's pwd.
		cmd.Env = append(slices.Clip(env), "PWD="+spec.Cwd)
	}
	cmd.Stdout = pw
	cmd.Stderr = pw
	exited, err := process.Start(cmd)
	// The children hold their own copies; ours must go or the reader never sees EOF.
	pw.Close()
	if err != nil {
		return shellOutcome{msg: fmt.Sprintf("Command could not start: %v", err), exitCode: -1}
	}
	pgid := cmd.Process.Pid

	out := process.NewCappedBuffer(maxOutput)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()

	var timeout <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var timedOut, interrupted bool
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-timeout:
		timedOut = true
		process.KillGroup(pgid)
		waitErr = <-exited
	case <-ctx.Done():
		interrupted = true
		process.KillGroup(pgid)
		waitErr = <-exited
	}
	// Whatever the shell left running in its group goes with it.
	process.KillGroup(pgid)
	drain := time.NewTimer(drainWait)
	select {
	case <-copied:
	case <-drain.C:
		pr.Close() // unblocks the reader: os.Pipe files are pollable
		<-copied
	}
	drain.Stop()

	o := shellOutcome{output: out.String(), exitCode: -1}
	switch {
	case interrupted:
		o.interrupted = true
	case timedOut:
		o.msg = fmt.Sprintf("Command timed out after %s", spec.Timeout)
	case waitErr == nil:
		o.success, o.exitCode = true, 0
		o.msg = "Command completed successfully"
	default:
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			o.msg = fmt.Sprintf("Command failed: %v", waitErr)
			break
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			o.msg = fmt.Sprintf("Command killed by signal %s", ws.Signal())
			break
		}
		o.exitCode = ee.ExitCode()
		o.msg = fmt.Sprintf("Command failed with code %d", o.exitCode)
	}
	return o
}
