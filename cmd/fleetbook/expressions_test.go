package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exprRunBook has a shell step that leaves a marker file, then an rpc step whose assert is
// ASSERT, to the nodes of a fleet node set filtered by COMPOUND.
const exprRunBook = `name: expressions
version: "1.0.0"
author: "fleetbook tests"
description: "A broken expression after a step that acts"
inputs:
  revision:
    type: String
    required: false
    default: "1.0.0"
nodes:
  web:
    type: fleet
    compound: "COMPOUND"
    empty_ok: true
tasks:
  - shell:
      command: "touch MARKER"
  - rpc:
      action: appmgr.status
      nodes: "{{ nodes.web }}"
      assert: "ASSERT"
`

// A broken expression is refused by validate and by run (exit 2), naming its field and line,
// and the step before it never runs: nothing acted on the fleet and nothing was stored.
func TestBrokenExpressionRefusedBeforeAnyStepRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	for _, tc := range []struct {
		name, compound, assert string
		args                   []string
		want                   string
	}{
		{name: "assert", compound: "apache", assert: "revision=1.0 )", want: `line 21: tasks[1].rpc.assert: is not a valid assert expression: unexpected ")"`},
		{name: "compound", compound: "apache nginx", assert: "revision=1.0", want: `line 13: nodes.web.compound: is not a valid compound filter: missing and/or before term "nginx"`},
		{name: "assert from an input", compound: "apache", assert: "revision={{ inputs.revision }}", args: []string{"--input", "revision=2.0 )"},
			want: `line 18: tasks[1].rpc.assert: is not a valid assert expression: unexpected ")" at offset 13 (rendered from the inputs)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".marker")
			doc := strings.NewReplacer("COMPOUND", tc.compound, "ASSERT", tc.assert, "MARKER", marker).Replace(exprRunBook)
			book := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml", doc)

			v := cli(t, dir, append([]string{"validate", book}, tc.args...)...)
			if v.code != exitRefused || !strings.Contains(v.stdout+v.stderr, tc.want) {
				t.Fatalf("validate: exit %d, want 2 naming %q\nstdout: %s\nstderr: %s", v.code, tc.want, v.stdout, v.stderr)
			}
			r := cli(t, dir, append([]string{"run", book, "--embedded", "--data-dir", state}, tc.args...)...)
			if r.code != exitRefused || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("run: exit %d, want 2 naming %q\nstdout: %s\nstderr: %s", r.code, tc.want, r.stdout, r.stderr)
			}
			if _, err := os.Stat(marker); !os.IsNotExist(err) {
				t.Fatalf("the shell step before the broken expression ran (marker: %v)", err)
			}
		})
	}
	if runs := storedRuns(t, dir, state); len(runs) != 0 {
		t.Errorf("refused runs were stored: %v", runs)
	}
}
