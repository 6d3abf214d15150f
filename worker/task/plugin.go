package task

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/process"
)

// Plugin settings.
const (
	// defaultPluginTimeout bounds a plugin run when neither the job nor the spec gives a timeout:
	// a plugin that never answers must not hold a worker slot forever.
	defaultPluginTimeout = 5 * time.Minute
	// maxPluginStderr is how much of a plugin's stderr is kept for a failure's message and data.
	maxPluginStderr = 16 << 10
	// maxPluginMsgStderr is how much of it the message quotes.
	maxPluginMsgStderr = 300
	// pluginPath is the PATH of a plugin's clean environment.
	pluginPath = "/usr/local/bin:/usr/bin:/bin"
)

// isPluginJob reports whether job's type can be a plugin of this worker.
func isPluginJob(env Env, job *protocol.Job) bool {
	return env.PluginDir != "" && playbooks.ValidPluginName(job.Type)
}

// runPluginJob runs the plugin executable of job.Type: the job as a protocol.PluginRequest on
// stdin, a protocol.PluginReply expected on stdout. A non-zero exit, an answer that is not a
// reply, or a timeout is a failed task.
func runPluginJob(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	spec, err := playbooks.LoadPlugin(env.PluginDir, job.Type)
	if err != nil {
		return env.failed(job, fmt.Sprintf("plugin task type %s is not usable on worker %s: %v", job.Type, env.Worker, err)), nil
	}
	props := job.Properties
	if props == nil {
		props = map[string]any{}
	}
	if err := spec.CheckProperties(props); err != nil {
		return env.failed(job, fmt.Sprintf("plugin %s: %v", job.Type, err)), nil
	}
	timeout := firstPositive(job.Timeout, spec.Timeout, defaultPluginTimeout)
	input, err := json.Marshal(protocol.PluginRequest{
		Version: protocol.PluginRequestVersion, Type: job.Type, Description: job.Description,
		Properties: props, RunID: job.ID.RunID, Step: job.ID.Step, Attempt: job.ID.Attempt,
		Playbook: job.Playbook, RequestID: job.ID.String(), TimeoutSeconds: timeout.Seconds(),
	})
	if err != nil {
		return env.failed(job, fmt.Sprintf("plugin %s: the task cannot be encoded: %v", job.Type, err)), nil
	}

	res := env.NewResult(job, time.Now().UTC())
	out := runPlugin(ctx, spec.Path, input, pluginEnv(job, env.Worker), timeout, env.DrainWait)
	res.EndedAt = time.Now().UTC()
	if out.interrupted {
		return protocol.Result{}, ErrInterrupted
	}
	res.ExitCode = out.exitCode
	if out.failure != "" {
		res.Msg = fmt.Sprintf("plugin %s %s", job.Type, out.failure)
		if out.stderr != "" {
			res.Data = out.stderr
		}
		return res, nil
	}
	var reply protocol.PluginReply
	dec := json.NewDecoder(bytes.NewReader(out.stdout))
	dec.UseNumber()
	if err := dec.Decode(&reply); err != nil || dec.More() {
		if err == nil {
			err = errors.New("more than one JSON document")
		}
		res.Msg = fmt.Sprintf("plugin %s answered with invalid JSON on stdout: %v", job.Type, err)
		res.Data = string(out.stdout)
		return res, nil
	}
	if reply.Success == nil {
		res.Msg = fmt.Sprintf(`plugin %s answered without "success"`, job.Type)
		res.Data = string(out.stdout)
		return res, nil
	}
	res.Success, res.Msg, res.Data = *reply.Success, reply.Msg, reply.Data
	if res.Msg == "" {
		res.Msg = fmt.Sprintf("plugin %s succeeded", job.Type)
		if !res.Success {
			res.Msg = fmt.Sprintf("plugin %s failed", job.Type)
		}
	}
	return res, nil
}

// firstPositive returns the first positive duration of ds.
func firstPositive(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}

// pluginEnv is a plugin's clean environment: nothing of the worker's (which may hold
// credentials), only a fixed PATH and fleetbook's own variables.
func pluginEnv(job *protocol.Job, worker string) []string {
	return []string{
		"PATH=" + pluginPath,
		"LANG=C.UTF-8",
		"FLEETBOOK_RUN_ID=" + job.ID.RunID,
		"FLEETBOOK_STEP=" + strconv.Itoa(job.ID.Step),
		"FLEETBOOK_ATTEMPT=" + strconv.Itoa(job.ID.Attempt),
		"FLEETBOOK_PLAYBOOK=" + job.Playbook,
		"FLEETBOOK_TASK_TYPE=" + job.Type,
		"FLEETBOOK_WORKER=" + worker,
	}
}

// pluginOutcome is what running a plugin gave, before its stdout is read as a reply.
type pluginOutcome struct {
	stdout []byte
	stderr string
	// failure, when set, says why the run failed ("failed with exit code 3: ...").
	failure  string
	exitCode int
	// interrupted is set when ctx ended the run.
	interrupted bool
}

// runPlugin runs path in its own process group with input on stdin. The group is killed on
// timeout or when ctx ends, and whatever is left of it when the plugin exits, so a plugin leaves
// no processes behind. drainWait bounds how long output is read after the plugin exited, for a
// child that escaped the group but kept the pipes.
func runPlugin(ctx context.Context, path string, input []byte, env []string, timeout, drainWait time.Duration) pluginOutcome {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stdout := process.NewCappedBuffer(maxOutput)
	stderr := process.NewCappedBuffer(maxPluginStderr)
	cmd := process.Command(tctx, path)
	cmd.Dir = filepath.Dir(path)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = drainWait
	err := process.Run(cmd)

	o := pluginOutcome{stdout: []byte(stdout.String()), stderr: stderr.String(), exitCode: -1}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		o.interrupted = true
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		o.failure = fmt.Sprintf("timed out after %s", timeout)
	case cmd.Process == nil:
		o.failure = fmt.Sprintf("could not start: %v", err)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			o.failure = fmt.Sprintf("killed by signal %s", ws.Signal())
		} else {
			o.exitCode = ee.ExitCode()
			o.failure = fmt.Sprintf("failed with exit code %d", o.exitCode)
		}
		if tail := lastLine(o.stderr, maxPluginMsgStderr); tail != "" {
			o.failure += ": " + tail
		}
	case errors.Is(err, exec.ErrWaitDelay), err == nil:
		o.exitCode = 0
		if stdout.Total() > maxOutput {
			o.failure = fmt.Sprintf("wrote more than %d bytes on stdout", maxOutput)
		}
	default:
		o.failure = fmt.Sprintf("failed: %v", err)
	}
	return o
}

// lastLine is the last non-empty line of s, at most n bytes of its end.
func lastLine(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > n {
		l = "..." + l[len(l)-n:]
	}
	return l
}
