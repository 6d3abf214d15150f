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

	// errInterrupted reports that a job's execution was cut short by the end of the shutdown
	// grace: the job has no result and must go back to the queue.
	errInterrupted = errors.New("job interrupted by worker shutdown")
)
