package auth

import "errors"

var (
	// ErrUnknownRole is returned for a role name fleetbook does not define.
	ErrUnknownRole = errors.New("unknown role")
	// ErrInvalidIdentity is returned for an agent identity that cannot be a subject token.
	ErrInvalidIdentity = errors.New("invalid agent identity")
	// ErrNoSetup is returned when a directory holds no credentials setup.
	ErrNoSetup = errors.New("no fleetbook credentials")
	// ErrCorrupt is returned when a setup file cannot be read as what it should hold.
	ErrCorrupt = errors.New("credentials file is damaged")
)
