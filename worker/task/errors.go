package task

import "errors"

var (
	// ErrInterrupted reports that a job's execution was cut short because its context ended,
	// at the end of the worker's shutdown grace say: the job has no result and must go back to
	// the queue (or be answered as its run's cancellation says).
	ErrInterrupted = errors.New("job interrupted by worker shutdown")
)
