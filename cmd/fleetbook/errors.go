package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// Exit codes, as README.md's exit-code table ("Exit codes (every command)") fixes them.
const (
	exitOK      = 0
	exitFailed  = 1 // the run ran and failed
	exitRefused = 2 // refused before anything ran: bad YAML, invalid playbook or input, usage, forbidden by the policy
	exitInfra   = 3 // infrastructure: no server, timeout
)

// exitError carries an exit code out of a command; main prints its error, if any, and exits with
// its code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitf ends the command with code and the formatted error, which main prints.
func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// silentExit ends the command with code after the command printed what it had to say.
func silentExit(code int) error { return &exitError{code: code} }

// refused prints a refusal, every problem on its own line, and exits 2. err is the
// *protocol.ErrorResponse of coordinator.Validate or of a refused submission; any other error is
// printed as a refusal without problems.
func refused(err error, source string, asJSON bool) error {
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) {
		apiErr = &protocol.ErrorResponse{Code: protocol.CodeBadRequest, Message: err.Error()}
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(apiErr)
	}
	fmt.Fprintf(os.Stderr, "%s: %s\n", source, visibleLines(apiErr.Message))
	for _, p := range apiErr.Problems {
		fmt.Fprintf(os.Stderr, "  %s\n", visible(fmt.Sprint(p)))
	}
	return silentExit(exitRefused)
}

// apiFailure maps an API error to the exit code contract. A refusal (protocol.ErrorResponse's
// Refused: bad request, invalid playbook or input, FORBIDDEN by the coordinators' policy or for
// a bad signature) is 2.
func apiFailure(err error, source string, asJSON bool) error {
	var apiErr *protocol.ErrorResponse
	if errors.As(err, &apiErr) && (apiErr.Refused() || apiErr.Code == protocol.CodeForbidden) {
		return refused(apiErr, source, asJSON)
	}
	if errors.Is(err, coordinator.ErrNoCoordinator) {
		return exitf(exitInfra, "%v (start one with `fleetbook up` or `fleetbook coordinator`)", err)
	}
	return exitf(exitInfra, "%v", err)
}

// agentExit maps an error starting agents to an exit code: a bad fleet file or agent definition
// is refused (2); anything else, such as a receiver port in use or no registry, is
// infrastructure (3).
func agentExit(what string, err error) error {
	if errors.Is(err, agent.ErrFleet) || errors.Is(err, agent.ErrDefinition) || errors.Is(err, agent.ErrInvalidOption) {
		return exitf(exitRefused, "%s: %v", what, err)
	}
	return exitf(exitInfra, "%s: %v", what, err)
}
