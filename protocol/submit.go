package protocol

import (
	"time"
	"unicode/utf8"
)

// SubmitVersion is the version of SubmitRequest and SubmitResponse.
const SubmitVersion = 1

// SubmitRequest asks a coordinator to start a run.
type SubmitRequest struct {
	Version int `json:"version"`
	// Playbook is the playbook document, YAML text.
	Playbook string `json:"playbook"`
	// Source names where the document came from (a file path), for messages only.
	Source string `json:"source,omitempty"`
	// Inputs are the given input values: native JSON values, or strings from the command line
	// that the coordinator converts to the declared type.
	Inputs map[string]any `json:"inputs,omitempty"`
	// IdempotencyKey makes the submission safe to repeat: the same key always gives the same run.
	// Reusing a key for a different playbook or inputs is refused with CodeIdempotencyConflict.
	IdempotencyKey string `json:"idempotency_key"`
	// Files are the other playbook documents the playbook's playbook tasks refer to, keyed by the
	// name or file path the task gives.
	Files map[string]string `json:"files,omitempty"`
	// Parent is set by a coordinator starting a child run.
	Parent string `json:"parent,omitempty"`
	// Sensitive names inputs to treat as sensitive whatever the playbook declares: a parent run
	// passes on, as sensitive, every input derived from its own sensitive values.
	Sensitive []string `json:"sensitive,omitempty"`
	// Scrub are values the run scrubs from every output beside its own sensitive inputs, never
	// revealed into its templates: a parent run's sensitive values, passed on to its child.
	Scrub []string `json:"scrub,omitempty"`
	// Timeout limits the whole run, from its acceptance; 0 means no limit. A run over its time
	// is stopped like a cancelled one.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// CancelRunRequest asks for a run to be stopped: steps in flight are told to stop, nothing new
// is started, on_fail and post_book run, and the run ends cancelled.
type CancelRunRequest struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	Reason  string `json:"reason,omitempty"`
}

// SubmitResponse answers an accepted SubmitRequest.
type SubmitResponse struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	// Duplicate is true when the idempotency key had already created this run.
	Duplicate bool `json:"duplicate,omitempty"`
}

// GetRunRequest asks for the report of one run.
type GetRunRequest struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	// WithDocument asks for the run's playbook document, source and child playbooks too (in
	// the report's document, source and files), for submitting it again (`runs rerun`).
	WithDocument bool `json:"with_document,omitempty"`
}

// ListRunsRequest asks for the most recent runs, newest first.
type ListRunsRequest struct {
	Version int `json:"version"`
	// Limit caps the number of runs returned; 0 means the server's default.
	Limit int `json:"limit,omitempty"`
	// Schedule, when set, keeps only the runs that schedule started.
	Schedule string `json:"schedule,omitempty"`
	// Status, when not empty, keeps only the runs in one of these statuses.
	Status []RunStatus `json:"status,omitempty"`
	// Playbook, when set, keeps only the runs of the playbook of this name.
	Playbook string `json:"playbook,omitempty"`
	// Submitter, when set, keeps only the runs submitted by this identity (name or key).
	Submitter string `json:"submitter,omitempty"`
	// Since and Until, when set, keep only the runs created at or after Since and before Until.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Before, when set, is the paging cursor: only runs listed after the run of this id (the
	// Next of the previous page).
	Before string `json:"before,omitempty"`
	// WithCounts asks for ListRunsResponse.Counts.
	WithCounts bool `json:"with_counts,omitempty"`
}

// ListRunsResponse answers a ListRunsRequest.
type ListRunsResponse struct {
	Version int          `json:"version"`
	Runs    []RunSummary `json:"runs"`
	// Next, when set, is the Before of the next page: more runs match.
	Next string `json:"next,omitempty"`
	// Counts, when the request asked WithCounts, are the numbers of runs by status that match
	// every filter of the request but Status and Before, among the runs the caller may read.
	Counts map[RunStatus]int `json:"counts,omitempty"`
}

// RunSummary is one line of a run listing.
type RunSummary struct {
	ID       string      `json:"id"`
	Playbook PlaybookRef `json:"playbook"`
	Status   RunStatus   `json:"status"`
	Error    string      `json:"error,omitempty"`
	// SubmittedBy is as in the run record.
	SubmittedBy Identity `json:"submitted_by,omitzero"`
	// Schedule and ScheduledFor are as in the run record.
	Schedule     string    `json:"schedule,omitempty"`
	ScheduledFor time.Time `json:"scheduled_for,omitzero"`
	// Parent is as in the run record.
	Parent    string    `json:"parent,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

// MaxSummaryError bounds the error text a RunSummary carries: the summary travels in a message
// header of every record write, and a listing shows the start of an error, not all of it.
const MaxSummaryError = 512

// Summary returns what a listing shows of the run. Its Error is cut to MaxSummaryError bytes (at
// a rune boundary, marked with an ellipsis).
func (r *RunRecord) Summary() RunSummary {
	msg := r.Error
	if len(msg) > MaxSummaryError {
		cut := MaxSummaryError - len("…")
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return RunSummary{
		ID: r.ID, Playbook: r.Playbook, Status: r.Status, Error: msg, SubmittedBy: r.SubmittedBy,
		Schedule: r.Schedule, ScheduledFor: r.ScheduledFor, Parent: r.Parent,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, EndedAt: r.EndedAt,
	}
}

// PruneRunsRequest asks for the runs that ended more than OlderThan ago to be deleted: their
// records, idempotency keys and events. Runs that have not ended are never deleted.
type PruneRunsRequest struct {
	Version   int           `json:"version"`
	OlderThan time.Duration `json:"older_than"`
}

// PruneRunsResponse answers a PruneRunsRequest. A coordinator works on one request for a
// bounded time: Complete is false when it stopped before it looked at every run, and the
// request is to be sent again.
type PruneRunsResponse struct {
	Version  int  `json:"version"`
	Pruned   int  `json:"pruned"`
	Complete bool `json:"complete"`
}
