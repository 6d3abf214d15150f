package protocol

import "time"

// RunVersion is the version of RunRecord and Report.
const RunVersion = 1

// RunStatus is the state of a run.
type RunStatus string

// Run statuses.
const (
	// StatusPending: accepted, no coordinator has started it yet.
	StatusPending RunStatus = "pending"
	// StatusRunning: a coordinator is driving it.
	StatusRunning RunStatus = "running"
	// StatusSuccess: it ran and succeeded.
	StatusSuccess RunStatus = "success"
	// StatusFailed: it ran and failed.
	StatusFailed RunStatus = "failed"
	// StatusCancelled: it was stopped before it finished.
	StatusCancelled RunStatus = "cancelled"
)

// Final reports whether s is a status a run never leaves.
func (s RunStatus) Final() bool {
	return s == StatusSuccess || s == StatusFailed || s == StatusCancelled
}

// PlaybookRef names a playbook.
type PlaybookRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Tags are the playbook's tags, which policies may grant rights by.
	Tags []string `json:"tags,omitempty"`
}

// RunRecord is a run's state, stored in the RunsBucket under the run id. Every change is a
// compare-and-set on the record's revision, so a stale coordinator cannot overwrite newer state.
type RunRecord struct {
	Version  int         `json:"version"`
	ID       string      `json:"id"`
	Playbook PlaybookRef `json:"playbook"`
	// Document is the playbook text the run executes, so a coordinator taking the run over reads
	// exactly what was submitted.
	Document string `json:"document"`
	Source   string `json:"source,omitempty"`
	// Inputs are the resolved input values.
	Inputs map[string]any `json:"inputs,omitempty"`
	// Secrets says the run has values in SecretsBucket (sensitive inputs, or values to scrub
	// that a parent run passed on): its jobs are scrubbed of them, and they are deleted when
	// the run ends.
	Secrets        bool   `json:"secrets,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// RequestHash identifies the submission, to refuse an idempotency key reused for another one.
	RequestHash string    `json:"request_hash,omitempty"`
	Status      RunStatus `json:"status"`
	Error       string    `json:"error,omitempty"`
	// CancelRequested asks the owner to stop the run; CancelReason says who and why.
	CancelRequested bool   `json:"cancel_requested,omitempty"`
	CancelReason    string `json:"cancel_reason,omitempty"`
	// SubmittedBy is the verified identity that submitted the run (for a child run, its parent's
	// submitter); CancelledBy is the one that cancelled it. Neither ever comes from a payload.
	SubmittedBy Identity `json:"submitted_by,omitzero"`
	CancelledBy Identity `json:"cancelled_by,omitzero"`
	// Deadline is when the run is stopped as if cancelled, when it has a time limit.
	Deadline time.Time `json:"deadline,omitzero"`

	// Owner is the coordinator driving the run; Epoch counts takeovers; RunMessage is the stream
	// sequence of the run message the owner holds. A delivery of any other run message for this run
	// is a duplicate and is dropped.
	Owner      string `json:"owner,omitempty"`
	Epoch      int    `json:"epoch"`
	RunMessage uint64 `json:"run_message,omitempty"`

	// StoreInputs names the inputs read from their data stores (they were not given); they are
	// read again before every task. Nil until the run's inputs are settled.
	StoreInputs []string `json:"store_inputs,omitempty"`
	// Files are the other playbook documents the run may start as child runs (playbook tasks),
	// keyed by the name or path the playbook uses for them.
	Files map[string]string `json:"files,omitempty"`
	// DocumentPart, when set, names the part (see IsRunPartKey) that holds Document and Files,
	// which the stored record then leaves out: kvstore.Runs stores a large playbook once, apart,
	// rather than in every write of the record.
	DocumentPart string `json:"document_part,omitempty"`
	// Parent is the run that started this one as a child (a playbook task), if any.
	Parent string `json:"parent,omitempty"`
	// Schedule names the schedule that started the run, and ScheduledFor the slot it fired for
	// (before jitter); both empty for a run submitted otherwise.
	Schedule     string    `json:"schedule,omitempty"`
	ScheduledFor time.Time `json:"scheduled_for,omitzero"`

	Nodes map[string][]string `json:"nodes,omitempty"`
	// NodeParts names, for each node set too large to carry in every write of the record, the
	// parts (see IsRunPartKey) that hold its nodes, in order; the stored record's Nodes then
	// leaves the set out. A node set never changes once discovered.
	NodeParts map[string][]string `json:"node_parts,omitempty"`
	Steps     []StepRecord        `json:"steps,omitempty"`
	// StepPages name the parts (see IsRunPartKey) that hold the run's first SealedSteps steps, in
	// order, which the stored record's Steps then leaves out. kvstore.Runs seals finished steps
	// into pages as the run goes, so a write of the record does not grow with the run, and gives
	// records back with every step.
	StepPages   []string  `json:"step_pages,omitempty"`
	SealedSteps int       `json:"sealed_steps,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
}

// StepRecord is one task execution of a run, with all its tries.
type StepRecord struct {
	// Seq is the step's number in the run, from 1, in execution order.
	Seq int `json:"seq"`
	// Key names the step's place in the playbook, like "tasks[1]" or "tasks[1].pre_task[0]"; it is
	// what a coordinator replaying the run matches steps by.
	Key         string `json:"key"`
	List        string `json:"list"`
	Type        string `json:"type"`
	Description string `json:"description"`
	// Register is the name the step's result is registered under (`register: NAME`).
	Register string `json:"register,omitempty"`
	// Attempt is the try in progress or the last one made.
	Attempt int `json:"attempt"`
	// Job is the dispatched job of the attempt in progress, kept so a coordinator taking over
	// publishes exactly the same job again if it was never published.
	Job *Job `json:"job,omitempty"`
	// JobTargetsSet, in the stored record only, names the run's node set that Job's targets
	// are, which are then not repeated (see RunRecord.MarshalJSON); decoding puts them back.
	JobTargetsSet string `json:"job_targets_set,omitempty"`
	// RetryAt is when the next attempt is due, after a failed one.
	RetryAt time.Time `json:"retry_at,omitzero"`
	Done    bool      `json:"done"`
	Success bool      `json:"success"`
	Msg     string    `json:"msg,omitempty"`
	Data    any       `json:"data,omitempty"`
	// Nodes holds per-node outcomes for fanned-out tasks.
	Nodes map[string]NodeResult `json:"nodes,omitempty"`
	// Batches is the number of jobs the attempt in flight is cut into (rpc steps); DoneBatches
	// lists those whose results are applied.
	Batches     int   `json:"batches,omitempty"`
	BatchSize   int   `json:"batch_size,omitempty"`
	DoneBatches []int `json:"done_batches,omitempty"`
	// Summary counts, for rpc steps with `post: [summarize]`, how many nodes replied each value of
	// each data key: key → value → nodes.
	Summary map[string]map[string]int `json:"summary,omitempty"`
	// NodesOK and NodesFailed count per-node outcomes of the attempt.
	NodesOK     int `json:"nodes_ok,omitempty"`
	NodesFailed int `json:"nodes_failed,omitempty"`
	// Child is the run a playbook task started.
	Child     string    `json:"child,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

// NodeResult is the outcome of a task on one node.
type NodeResult struct {
	Success bool   `json:"success"`
	Msg     string `json:"msg,omitempty"`
	Data    any    `json:"data,omitempty"`
}

// Report is the final (or current) account of a run, as `fleetbook run --json` and
// `fleetbook runs show --json` print it.
type Report struct {
	ID       string      `json:"id"`
	Playbook PlaybookRef `json:"playbook"`
	Status   RunStatus   `json:"status"`
	Error    string      `json:"error"`
	// SubmittedBy and CancelledBy are as in the run record.
	SubmittedBy Identity `json:"submitted_by,omitzero"`
	CancelledBy Identity `json:"cancelled_by,omitzero"`
	// Schedule and ScheduledFor are as in the run record.
	Schedule     string    `json:"schedule,omitempty"`
	ScheduledFor time.Time `json:"scheduled_for,omitzero"`
	// Parent is the run that started this one as a child (a playbook task), if any; the
	// children are the Child of its tasks.
	Parent string `json:"parent,omitempty"`
	// Inputs has sensitive values redacted.
	Inputs map[string]any `json:"inputs"`
	// Nodes is each node set's identities, up to ReportNodeSetLimit of each (the first
	// discovered); NodeCounts is each set's whole size, so a reader can tell a cut set.
	Nodes      map[string][]string `json:"nodes"`
	NodeCounts map[string]int      `json:"node_counts"`
	StartedAt  time.Time           `json:"started_at,omitzero"`
	EndedAt    time.Time           `json:"ended_at,omitzero"`
	Tasks      []TaskReport        `json:"tasks"`
	// Document, Source and Files are the run's playbook, where it came from and its child
	// playbooks: only when the request asked for them (GetRunRequest.WithDocument).
	Document string            `json:"document,omitempty"`
	Source   string            `json:"source,omitempty"`
	Files    map[string]string `json:"files,omitempty"`
}

// ReportNodeSetLimit is the most identities of one node set a report lists. A report is one
// reply message, under the server's payload limit (1 MB by default), and 100,000 identities are
// 2.7 MB: the nodes an rpc step reached are paged by runs.nodes instead.
const ReportNodeSetLimit = 1000

// StepState is the state of one task of a run, as its report shows it.
type StepState string

// Step states.
const (
	// StepPending: begun but not tried yet (waiting out its pre_sleep).
	StepPending StepState = "pending"
	// StepRunning: a try is in flight.
	StepRunning StepState = "running"
	// StepRetrying: a try failed and the next is due at a later time.
	StepRetrying StepState = "retrying"
	// StepSuccess: it succeeded.
	StepSuccess StepState = "success"
	// StepFailed: its last try failed.
	StepFailed StepState = "failed"
	// StepCancelled: it was stopped because the run was cancelled or timed out.
	StepCancelled StepState = "cancelled"
	// StepSkipped: it was not run (reserved: the coordinator reports only tasks it began).
	StepSkipped StepState = "skipped"
)

// TaskReport is one task of a Report, in execution order.
type TaskReport struct {
	// Number is the task's place in the report, from 1: the number errors and the text report
	// call it by.
	Number int `json:"number"`
	// Key is the task's place in the playbook, such as "tasks[0]" (from 0, as a YAML path).
	Key string `json:"key"`
	// State is the task's state; Success is true only in state success.
	State       StepState             `json:"state"`
	List        string                `json:"list"`
	Type        string                `json:"type"`
	Description string                `json:"description"`
	Success     bool                  `json:"success"`
	Msg         string                `json:"msg"`
	Tries       int                   `json:"tries"`
	Data        any                   `json:"data"`
	Nodes       map[string]NodeResult `json:"nodes,omitempty"`
	// NodesOK and NodesFailed count the per-node outcomes of every node of the task's last
	// attempt: Nodes keeps only some of them (every failed one, up to 1,000 in all).
	NodesOK     int `json:"nodes_ok,omitempty"`
	NodesFailed int `json:"nodes_failed,omitempty"`
	// Child is the id of the run a playbook task started.
	Child     string    `json:"child,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}
