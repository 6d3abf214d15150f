// Package faults holds fleetbook's fault-injection suite (see docs/reliability.md): tests that
// SIGKILL, SIGSTOP and restart real fleetbook and nats-server processes while runs are in flight,
// and check with an effect ledger that no accepted run is lost, no step's effect happens twice
// and no step starts before the one it follows has finished. The package has no code of its own.
//
// The short form runs with `go test ./internal/faults/`; FLEETBOOK_FAULTS_LONG=1 runs the long
// forms (more iterations, full-size load, the soak).
package faults
