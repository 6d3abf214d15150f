package task

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// maxOutput caps the output kept of one command, and the response body kept of one HTTP call:
// results travel as single NATS messages and are stored with their run, so a chatty command must
// not make them huge.
const maxOutput = 256 << 10

// Env is what the executors need of the worker that runs them. The worker builds it when it
// starts; executors only read it.
type Env struct {
	// Worker is the worker's name, recorded in every Result and given to shell commands and
	// plugins as $FLEETBOOK_WORKER.
	Worker string
	// NC carries rpc fan-outs and the pings of discovery's connectivity test.
	NC *nats.Conn
	// JS reaches the data stores of data tasks and the node registry of discovery.
	JS jetstream.JetStream
	// DrainWait is how long output is still read after a command's process group is gone, for a
	// process that escaped the group (setsid) and still holds the output pipe.
	DrainWait time.Duration
	// SlackAPI is the Slack Web API base URL slack tasks call, without the trailing slash; a
	// task's api_url overrides it.
	SlackAPI string
	// PluginDir holds the plugin task types (see playbooks.LoadPlugin); empty means none.
	PluginDir string
	// PuppetDB is the base URL pql node sets query when their url property names none.
	PuppetDB string
	// Replies, when set, is told each node's outcome in an rpc fan-out (metrics).
	Replies ReplyObserver
}

// ReplyObserver is told, once per node of every rpc fan-out, how the node answered: outcome is
// one of ok, failed, no_reply, no_agent, invalid (metrics.NodeOK...), latency the time from the
// fan-out's first request to the reply, 0 when none came.
type ReplyObserver interface {
	NodeReplied(outcome string, latency time.Duration)
}

// Execute runs job's task under ctx, the job's own context, and returns its Result. A task that
// fails is a failed Result, never an error. The only error is ErrInterrupted: ctx ended while
// the task ran (the shutdown grace ran out, or the worker stopped the job), and what the task
// did has no result worth reporting.
func Execute(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	switch job.Type {
	case protocol.TaskShell:
		return runShellJob(ctx, env, job)
	case protocol.TaskWebhook:
		return runWebhookJob(ctx, env, job)
	case protocol.TaskSlack:
		return runSlackJob(ctx, env, job)
	case protocol.TaskGraphiteEvent:
		return runGraphiteJob(ctx, env, job)
	case protocol.TaskData:
		return runDataJob(ctx, env, job)
	case protocol.TaskDiscover:
		return runDiscoverJob(ctx, env, job)
	case protocol.TaskNoop:
		return runNoopJob(ctx, env, job)
	case protocol.TaskRPC:
		return runRPCJob(ctx, env, job)
	default:
		if isPluginJob(env, job) {
			return runPluginJob(ctx, env, job)
		}
		res := env.NewResult(job, time.Now().UTC())
		res.Msg = fmt.Sprintf("unsupported task type %s on worker %s", job.Type, env.Worker)
		res.ExitCode = -1
		return res, nil
	}
}

// NewResult starts a failed Result of job by env's worker, started and ended at now: executors
// fill it in, and the worker answers with it for a job it cannot run.
func (env Env) NewResult(job *protocol.Job, now time.Time) protocol.Result {
	return protocol.Result{
		Version:   protocol.JobVersion,
		ID:        job.ID,
		Worker:    env.Worker,
		StartedAt: now,
		EndedAt:   now,
		// Binds the result to the job for the coordinator; every result a worker publishes
		// for a job starts here.
		Token: job.ResultToken,
	}
}

// failed is a failed Result of job that never ran: its properties were unusable.
func (env Env) failed(job *protocol.Job, msg string) protocol.Result {
	res := env.NewResult(job, time.Now().UTC())
	res.Msg = msg
	res.ExitCode = -1
	return res
}

// runNoopJob succeeds at once, with the job's msg property as its message.
func runNoopJob(_ context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	res := env.NewResult(job, time.Now().UTC())
	res.Success, res.Msg = true, "noop"
	if msg, ok := job.Properties["msg"].(string); ok && msg != "" {
		res.Msg = msg
	}
	return res, nil
}
