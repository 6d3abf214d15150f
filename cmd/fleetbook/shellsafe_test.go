package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A value in a position where it would run as code is refused at submit, before any step acts:
// exit 2 naming the field, step 1's marker never created, nothing stored.
func TestRunRefusesValueAsCodeBeforeAnyStep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	marker := filepath.Join(dir, "marker")
	canary := filepath.Join(dir, "canary")
	book := writeFile(t, dir, "evil.yaml", fmt.Sprintf(`name: evil
version: "1.0.0"
author: tests
description: runs an input as code
inputs:
  x: {type: String}
tasks:
  - shell: {command: "touch %s"}
  - shell:
      command: 'sh -c "{{ inputs.x }}"'
`, marker))
	for _, args := range [][]string{
		{"validate", book},
		{"run", book, "--embedded", "--data-dir", state, "--input", "x=touch " + canary},
	} {
		r := cli(t, dir, args...)
		if r.code != exitRefused {
			t.Fatalf("%s: exit %d, want 2\nstdout: %s\nstderr: %s", args[0], r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "tasks[1].shell.command") || !strings.Contains(r.stderr, "argument of sh") {
			t.Errorf("%s: stderr does not name the field and the reason:\n%s", args[0], r.stderr)
		}
	}
	for _, f := range []string{marker, canary} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s exists: a step ran", f)
		}
	}
	if runs := listRuns(t, dir, "--embedded", "--data-dir", state); len(runs) != 0 {
		t.Errorf("the refused run was stored: %v", runs)
	}
}

// Hostile values through safe positions, in a real run: the canary is never created and each
// step's output is the value, byte for byte.
func TestRunHostileValuesStayData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	book := writeFile(t, dir, "echo.yaml", `name: echo
version: "1.0.0"
author: tests
description: echoes its input in safe positions
inputs:
  v: {type: String}
tasks:
  - shell: {command: "printf '%s' {{ inputs.v }}"}
  - shell: {command: "printf '%s' \"{{ inputs.v }}\""}
  - shell: {command: "V={{ inputs.v }}; printf '%s' \"$V\""}
  - shell: {command: "env V=\"{{ inputs.v }}\" sh -c 'printf %s \"$V\"'"}
`)
	for i, v := range []string{"; touch " + canary + " #", "$(touch " + canary + ")", "`touch " + canary + "`", "'\"\n", "--help"} {
		r := cli(t, dir, "run", book, "--embedded", "--data-dir", filepath.Join(dir, fmt.Sprintf("state%d", i)), "--input", "v="+v, "--json")
		if r.code != 0 {
			t.Fatalf("value %q: exit %d\nstderr: %s", v, r.code, r.stderr)
		}
		var rep struct {
			Tasks []struct {
				Data any `json:"data"`
			} `json:"tasks"`
		}
		decodeOne(t, r.stdout, &rep)
		if len(rep.Tasks) != 4 {
			t.Fatalf("value %q: %d tasks in the report, want 4", v, len(rep.Tasks))
		}
		for j, task := range rep.Tasks {
			if task.Data != v {
				t.Errorf("value %q, step %d printed %q", v, j+1, task.Data)
			}
		}
		if _, err := os.Stat(canary); err == nil {
			t.Fatalf("value %q created the canary", v)
		}
	}
}
