package coordinator

import "errors"

// Errors the coordinator returns; callers test them with errors.Is.
var (
	// ErrInvalidOption indicates that New was given a nil connection, a nil Option or an option
	// value it cannot work with (or NewClient a nil connection); the wrapping error names the
	// option and the value.
	ErrInvalidOption = errors.New("invalid coordinator option")
	// ErrLostOwnership indicates that another coordinator took the run over: this one must stop
	// driving it and leave its run message alone.
	ErrLostOwnership = errors.New("run taken over by another coordinator")
	// ErrNoCoordinator indicates that no coordinator answers the API.
	ErrNoCoordinator = errors.New("no fleetbook coordinator is answering")
	// ErrBadSignature indicates an API request whose signature headers are incomplete, malformed,
	// outside the time window or forged; the request is refused (protocol.CodeForbidden).
	ErrBadSignature = errors.New("bad request signature")
	// ErrBadSession indicates a session grant that does not parse, is not signed by the key it
	// names, is meant for another audience, or is not valid at this time.
	ErrBadSession = errors.New("bad session grant")
)
