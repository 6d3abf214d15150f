package worker

import "errors"

var (
	// ErrInvalidOption indicates that New was given an option value it cannot work with; the
	// wrapping error names the option and the value.
	ErrInvalidOption = errors.New("invalid worker option")
	// ErrStartup indicates that Run could not set up what it pulls jobs through: the streams (when
	// WithStore is given) or the pool's durable consumer.
	ErrStartup = errors.New("worker start-up failed")
	// ErrAlreadyRunning indicates that Run was called on a Worker whose Run has not returned yet.
	ErrAlreadyRunning = errors.New("worker is already running")

	// Job stops that are not the worker's shutdown. They are the causes of a job's context.

	// errRunCancelled: the coordinator cancelled the job's run (protocol.CancelSubject).
	errRunCancelled = errors.New("cancelled")
	// errTakenOver: another worker took the job over after this one went silent for longer than
	// the takeover wait (it was paused, or cut off from the server); this copy must stop and
	// stay silent.
	errTakenOver = errors.New("job taken over by another worker")
)
