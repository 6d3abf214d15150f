package agent

import (
	"errors"

	"github.com/fleetbook/fleetbook/playbooks"
)

var (
	// ErrInvalidOption indicates that New was given an option value it cannot work with.
	ErrInvalidOption = errors.New("invalid agent option")
	// ErrDefinition indicates that an agent definition file is unusable; the wrapping error names
	// the file and the field. It is playbooks.ErrAgentDefinition, which the definition language
	// returns.
	ErrDefinition = playbooks.ErrAgentDefinition
	// ErrFleet indicates that a fleet, facts or classes file is unusable; the wrapping error names
	// the file and the field.
	ErrFleet = errors.New("invalid fleet")
	// ErrStartup indicates that Run could not subscribe or reach the node registry.
	ErrStartup = errors.New("agent start-up failed")
	// ErrAlreadyRunning indicates that Run was called twice on one Server.
	ErrAlreadyRunning = errors.New("agent server is already running")
	// ErrReplayMemoryFull refuses a signed request when the memory of signed request ids is
	// full: accepting it without remembering it until its grant expires would let a replay of it
	// act again.
	ErrReplayMemoryFull = errors.New("too many signed requests remembered: refusing new ones until their grants expire")
)
