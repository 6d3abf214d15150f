package metrics

import "errors"

var (
	// ErrNotReady is wrapped by every readiness failure; the message names what is not ready.
	ErrNotReady = errors.New("not ready")
	// ErrInvalidOption is wrapped by New's refusal of an option value.
	ErrInvalidOption = errors.New("invalid metrics option")
)
