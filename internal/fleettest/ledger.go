package fleettest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// LedgerPlaybook returns a playbook named "ledger" of steps shell steps, "step 1" to "step N". Each
// runs command with LEDGER set to inputs.ledger, the file the steps append to, and SLEEP to
// inputs.sleep, seconds (default "0"); the worker sets FLEETBOOK_RUN_ID, FLEETBOOK_STEP and
// FLEETBOOK_ATTEMPT. command stands in single quotes in the YAML, so it must not hold one. extra
// holds task keys (like "tries: 3") added to every step.
func LedgerPlaybook(steps int, command string, extra ...string) string {
	var b strings.Builder
	b.WriteString(`name: ledger
version: "1.0.0"
author: "fleetbook tests"
description: "Steps that record their effects in a ledger file"
inputs:
  ledger:
    description: "file every step appends to"
    type: String
  sleep:
    description: "seconds each step takes"
    type: String
    required: false
    default: "0"
tasks:
`)
	for i := range steps {
		fmt.Fprintf(&b, `  - shell:
      description: "step %d"
      command: '%s'
      environment:
        LEDGER: "{{{ inputs.ledger }}}"
        SLEEP: "{{{ inputs.sleep }}}"
`, i+1, command)
		for _, e := range extra {
			fmt.Fprintf(&b, "      %s\n", e)
		}
	}
	return b.String()
}

// LedgerLines returns the lines of the ledger file at path in the order they were appended; none
// while no step has written one.
func LedgerLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
