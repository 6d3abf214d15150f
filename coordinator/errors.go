package coordinator

import "errors"

var (
	// ErrLostOwnership indicates that another coordinator took the run over: this one must stop
	// driving it and leave its run message alone.
	ErrLostOwnership = errors.New("run taken over by another coordinator")
	// ErrNoCoordinator indicates that no coordinator answers the API.
	ErrNoCoordinator = errors.New("no fleetbook coordinator is answering")
)
