// Package fleettest holds fixtures for tests that run fleetbook whole, as processes or in-process
// (the command's tests and the fault suite): a TestMain that builds the fleetbook binary, the
// ledger playbook, whose steps record their effects in a file, and a run's record read straight
// from its bucket. It starts no server of its own (natstest does) and mocks nothing.
package fleettest
