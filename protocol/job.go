package protocol

import (
	"fmt"
	"time"
)

// JobVersion is the version of Job and Result.
const JobVersion = 1

// JobID names one job: one attempt of one step of a run, and one batch of its targets (0 for steps
// that are not fanned out). It is deterministic, so a job published twice carries the same
// Nats-Msg-Id and a job's result is found by subject.
type JobID struct {
	RunID string `json:"run_id"`
	// Step is the step's sequence number in the run, from 1, in execution order.
	Step int `json:"step"`
	// Attempt counts tries of the step, from 1.
	Attempt int `json:"attempt"`
	Batch   int `json:"batch"`
}

// String is the job's Nats-Msg-Id: run/step/attempt/batch.
func (id JobID) String() string {
	return fmt.Sprintf("%s/%d/%d/%d", id.RunID, id.Step, id.Attempt, id.Batch)
}

// Task types a worker executes.
const (
	// TaskShell runs a command through /bin/sh on the worker.
	TaskShell = "shell"
)

// Job is one unit of work for a worker: a task whose properties the coordinator has already
// rendered.
type Job struct {
	Version int   `json:"version"`
	ID      JobID `json:"id"`
	// Type selects the executor; exactly the matching spec field is set.
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	// Playbook names the playbook, for logs and for the environment of shell tasks.
	Playbook string     `json:"playbook,omitempty"`
	Shell    *ShellSpec `json:"shell,omitempty"`
	// Properties are the rendered properties of task types without a typed spec (webhook, slack,
	// graphite_event, plugin types).
	Properties map[string]any `json:"properties,omitempty"`
	// Timeout bounds the task's execution on the worker; 0 means the type's own default.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Store and Data are set on data jobs.
	Store *StoreSpec `json:"store,omitempty"`
	Data  *DataOp    `json:"data,omitempty"`
	// Discover is set on discover jobs.
	Discover *DiscoverSpec `json:"discover,omitempty"`
	// RPC and Targets are set on rpc jobs: the action and the node identities of this batch.
	RPC     *RPCSpec `json:"rpc,omitempty"`
	Targets []string `json:"targets,omitempty"`
	// Sensitive says the run has sensitive values (see SecretRef): the worker reads them and
	// scrubs every one of them from the job's output, whether or not the job refers to them (a
	// value written to a file by one step and printed by the next).
	Sensitive bool `json:"sensitive,omitempty"`
	// Grant is the coordinator's signed authorisation of an rpc job (or of a discover job's
	// pings), which the worker forwards to the agents. Set only when the coordinator has a signer.
	Grant *Grant `json:"grant,omitempty"`
	// ResultToken binds the job's result to the job: the worker copies it into Result.Token and
	// the coordinator applies only a result whose token it recomputes. It is a secret of the
	// workers and coordinators (jobs are readable by workers only) and is never stored in the run
	// record. Set only when the coordinator has a signer.
	ResultToken string `json:"result_token,omitempty"`
}

// ShellSpec is a rendered shell task. Templated values never appear in Command: they are passed as
// environment variables that Command refers to, so they cannot be run as shell code.
type ShellSpec struct {
	Command string `json:"command"`
	Cwd     string `json:"cwd,omitempty"`
	// Timeout bounds the whole process group; 0 means no limit.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Environment is added to the worker's environment.
	Environment map[string]string `json:"environment,omitempty"`
}

// Result is a worker's answer to a job.
type Result struct {
	Version int   `json:"version"`
	ID      JobID `json:"id"`
	// Worker names the worker that ran the job.
	Worker  string `json:"worker"`
	Success bool   `json:"success"`
	Msg     string `json:"msg"`
	// Data is the task's output: for shell, the combined output text.
	Data any `json:"data,omitempty"`
	// Nodes holds per-node outcomes of rpc jobs.
	Nodes map[string]NodeResult `json:"nodes,omitempty"`
	// ExitCode is the exit status of a shell command, -1 when it did not exit normally.
	ExitCode  int       `json:"exit_code"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// Token is the job's ResultToken, copied by the worker.
	Token string `json:"token,omitempty"`
}
