package protocol

import (
	"errors"
	"fmt"
)

// Error codes carried in the Code of ErrorResponse (the body of an API error reply) and at the
// start of its Nats-Service-Error header ("CODE: message"); the Nats-Service-Error-Code header
// carries the numeric class, an HTTP status, as the micro convention has it (docs/api.md).
const (
	// CodeBadRequest: the request itself could not be decoded or lacks a field.
	CodeBadRequest = "BAD_REQUEST"
	// CodeInvalidPlaybook: the playbook document is malformed or invalid.
	CodeInvalidPlaybook = "INVALID_PLAYBOOK"
	// CodeInvalidInput: an input is unknown, missing, of the wrong type or fails its validation.
	CodeInvalidInput = "INVALID_INPUT"
	// CodeIdempotencyConflict: the idempotency key was used before for a different submission.
	CodeIdempotencyConflict = "IDEMPOTENCY_CONFLICT"
	// CodeNotFound: no run (or schedule) has that id (or name).
	CodeNotFound = "NOT_FOUND"
	// CodeConflict: the request would overwrite what exists (a schedule name that is taken).
	CodeConflict = "CONFLICT"
	// CodeInternal: the coordinator failed; the request may be retried.
	CodeInternal = "INTERNAL"
	// CodeQueueFull: the run queue is at its limit; nothing was stored, and the same submission
	// (same idempotency key) may be retried later.
	CodeQueueFull = "QUEUE_FULL"
	// CodeForbidden: the caller's identity may not do this (the coordinator's policy refused it),
	// or the request's signature did not verify; nothing was done, and the refusal is audited.
	CodeForbidden = "FORBIDDEN"
)

// ErrorResponse is the body of an API error reply.
type ErrorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Problems lists every problem found, each naming the field, for refused playbooks and inputs.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one validation problem.
type Problem struct {
	// Path names the field, like "tasks[2].shell.timeout" or "inputs.cluster".
	Path string `json:"path"`
	// Line is the 1-based line of the playbook document, 0 when unknown.
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// String formats p as "line N: path: message".
func (p Problem) String() string {
	switch {
	case p.Line > 0 && p.Path != "":
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Message)
	case p.Path != "":
		return fmt.Sprintf("%s: %s", p.Path, p.Message)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return p.Message
}

// Error implements error.
func (e *ErrorResponse) Error() string {
	s := e.Message
	for _, p := range e.Problems {
		s += "\n  " + p.String()
	}
	return s
}

// Refused reports whether the error means the request was refused before anything ran, as
// opposed to an infrastructure failure.
func (e *ErrorResponse) Refused() bool {
	switch e.Code {
	case CodeBadRequest, CodeInvalidPlaybook, CodeInvalidInput, CodeIdempotencyConflict, CodeNotFound, CodeForbidden, CodeConflict:
		return true
	}
	return false
}

// Errors of CheckDataBucket.
var (
	// ErrInvalidBucket: the name is not a JetStream bucket name.
	ErrInvalidBucket = errors.New("not a valid bucket name")
	// ErrReservedBucket: the bucket is one of fleetbook's own, which playbooks may not reach.
	ErrReservedBucket = errors.New("reserved bucket")
)
