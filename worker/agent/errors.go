package agent

import "errors"

var (
	// ErrInvalidOption indicates that New was given an option value it cannot work with.
	ErrInvalidOption = errors.New("invalid agent option")
	// ErrDefinition indicates that an agent definition file is unusable; the wrapping error names
	// the file and the field.
	ErrDefinition = errors.New("invalid agent definition")
	// ErrFleet indicates that a fleet, facts or classes file is unusable; the wrapping error names
	// the file and the field.
	ErrFleet = errors.New("invalid fleet")
	// ErrStartup indicates that Run could not subscribe or reach the node registry.
	ErrStartup = errors.New("agent start-up failed")
	// ErrAlreadyRunning indicates that Run was called twice on one Server.
	ErrAlreadyRunning = errors.New("agent server is already running")
)
