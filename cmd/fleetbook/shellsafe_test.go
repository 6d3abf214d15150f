package main

import (
	"encoding/json"
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
	if runs := storedRuns(t, dir, state); len(runs) != 0 {
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

// Terminal sequences in command output reach people escaped, in progress and in `runs show`;
// --json keeps JSON's own escaping.
func TestTerminalSequencesShownEscaped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	book := writeFile(t, dir, "noisy.yaml", `name: noisy
version: "1.0.0"
author: tests
description: prints terminal sequences
tasks:
  - shell:
      command: 'printf "title \033]0;pwned\007 clear \033[2J bidi \342\200\256 end"'
  - log:
      message: "said: {{ previous_task.data }}"
`)
	r := cli(t, dir, "run", book, "--embedded", "--data-dir", state, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	var rep struct {
		ID string `json:"id"`
	}
	decodeOne(t, r.stdout, &rep)
	const want = `title \x1b]0;pwned\x07 clear \x1b[2J bidi \u202e end`
	if !strings.Contains(r.stderr, "said: "+want) {
		t.Errorf("progress does not show the output escaped:\n%s", r.stderr)
	}
	if strings.ContainsAny(r.stderr, "\x1b\x07\u202e") {
		t.Errorf("progress holds raw terminal sequences: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, `\u001b]0;pwned\u0007`) || strings.ContainsAny(r.stdout, "\x1b\x07") {
		t.Errorf("--json must keep JSON's escaping of control characters:\n%s", r.stdout)
	}

	show := cli(t, dir, "runs", "show", rep.ID, "--embedded", "--data-dir", state)
	if show.code != 0 {
		t.Fatalf("runs show: exit %d\nstderr: %s", show.code, show.stderr)
	}
	if !strings.Contains(show.stdout, "| "+want) || !strings.Contains(show.stdout, "said: "+want) {
		t.Errorf("runs show does not show the output escaped:\n%s", show.stdout)
	}
	if strings.ContainsAny(show.stdout, "\x1b\x07\u202e") {
		t.Errorf("runs show holds raw terminal sequences: %q", show.stdout)
	}
}

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcödé\tand tabs": "plain text, ünïcödé\tand tabs",
		"\x1b]0;pwned\x07":              `\x1b]0;pwned\x07`,
		"a\r\nb\x00\x7f":                `a\r\nb\x00\x7f`,
		"c1 \u009b2J":                   `c1 \u009b2J`,
		"bidi \u202e \u2066 \u200f":     `bidi \u202e \u2066 \u200f`,
		"bad \xff byte":                 `bad \xff byte`,
		"line\u2028sep":                 `line\u2028sep`,
	} {
		if got := visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
	if got := visibleLines("one\x1b\ntwo"); got != "one\\x1b\ntwo" {
		t.Errorf("visibleLines kept %q", got)
	}
}

// An input value holding a terminal sequence is refused before anything runs, naming the input,
// and the refusal itself prints nothing raw.
func TestRunRefusesControlCharactersInInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	book := writeFile(t, dir, "hello.yaml", okBook)
	for i, v := range []string{"\x1b]0;pwned\x07", "a\x00b", "ok\rEVIL", "user\u202e"} {
		// Through an inputs file: a NUL cannot be a command-line argument.
		b, _ := json.Marshal(map[string]string{"who": v})
		inputs := writeFile(t, dir, fmt.Sprintf("inputs%d.json", i), string(b))
		r := cli(t, dir, "run", book, "--embedded", "--data-dir", state, "--inputs", inputs)
		if r.code != exitRefused || !strings.Contains(r.stderr, "inputs.who") {
			t.Fatalf("value %q: exit %d, want 2 naming inputs.who\nstderr: %s", v, r.code, r.stderr)
		}
		if strings.ContainsAny(r.stderr, "\x1b\x07\x00\r\u202e") {
			t.Errorf("value %q: the refusal printed raw characters: %q", v, r.stderr)
		}
	}
	if runs := storedRuns(t, dir, state); len(runs) != 0 {
		t.Errorf("refused runs were stored: %v", runs)
	}
}
