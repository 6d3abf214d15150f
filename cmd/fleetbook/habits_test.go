package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// Habits of the ecosystem: --version, a mistyped subcommand, a context that does not exist, a
// port in use or out of range, tab-indented YAML and a mistyped --input are refused at once with
// exit 2 and a hint; --json errors are JSON on stdout; --log-format json logs JSON.
func TestHabits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if r := cli(t, dir, "--version"); r.code != exitOK || !strings.HasPrefix(r.stdout, "fleetbook version ") {
		t.Errorf("--version: exit %d: %q", r.code, r.stdout)
	}
	if r := cli(t, dir, "runs", "lst"); r.code != exitRefused || !strings.Contains(r.stderr, "did you mean list?") {
		t.Errorf("runs lst: exit %d, want 2 and \"did you mean list?\": %s", r.code, r.stderr)
	}
	if r := cli(t, dir, "runs", "list", "--context", "nosuch"); r.code != exitRefused || !strings.Contains(r.stderr, `"nosuch"`) {
		t.Errorf("--context nosuch: exit %d, want 2 naming it: %s", r.code, r.stderr)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if r := cli(t, dir, "up", "--data-dir", filepath.Join(dir, "up"), "--listen", l.Addr().String()); r.code != exitRefused || !strings.Contains(r.stderr, "in use") {
		t.Errorf("up on a port in use: exit %d, want 2 saying so: %s", r.code, r.stderr)
	}
	if r := cli(t, dir, "up", "--data-dir", filepath.Join(dir, "up"), "--listen", "127.0.0.1:70000"); r.code != exitRefused || !strings.Contains(r.stderr, "0 to 65535") {
		t.Errorf("up on port 70000: exit %d, want 2: %s", r.code, r.stderr)
	}
	tabbed := writeFile(t, dir, "tabbed.yaml", strings.Replace(okBook, "      command:", "\t  command:", 1))
	if r := cli(t, dir, "run", tabbed, "--embedded", "--input", "who=x"); r.code != exitRefused || !strings.Contains(r.stderr, "tabs are not allowed in YAML indentation") {
		t.Errorf("tab-indented playbook: exit %d: %s", r.code, r.stderr)
	}
	book := writeFile(t, dir, "hello.yaml", okBook)
	if r := cli(t, dir, "run", book, "--embedded", "--input", "woh=x"); r.code != exitRefused || !strings.Contains(r.stderr, `did you mean "who"?`) {
		t.Errorf("mistyped --input: exit %d, want 2 suggesting who: %s", r.code, r.stderr)
	}
	r := cli(t, dir, "runs", "list", "--json")
	var jerr struct{ Code, Message string }
	decodeOne(t, r.stdout, &jerr)
	if r.code != exitInfra || jerr.Code != "UNAVAILABLE" || !strings.Contains(jerr.Message, "--server") {
		t.Errorf("runs list --json without a server: exit %d, stdout %q", r.code, r.stdout)
	}
	r = cli(t, dir, "run", book, "--embedded", "--data-dir", filepath.Join(dir, "logs"), "--input", "who=x", "--log-format", "json", "--log-level", "info")
	logged := false
	for _, line := range strings.Split(r.stderr, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "INFO" && rec["msg"] != nil {
			logged = true
		}
	}
	if r.code != exitOK || !logged {
		t.Errorf("--log-format json --log-level info: exit %d, no JSON log line:\n%s", r.code, r.stderr)
	}
	if r := cli(t, dir, "runs", "list", "--log-format", "xml", "--embedded"); r.code != exitRefused {
		t.Errorf("--log-format xml: exit %d, want 2", r.code)
	}
}

// runs cancel on an ended run exits 2; runs prune takes days, lists with --dry-run, and deletes
// only once confirmed (--yes without a terminal).
func TestCancelEndedAndPruneSafely(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	embedded := []string{"--embedded", "--data-dir", state}
	book := writeFile(t, dir, "hello.yaml", okBook)
	r := cli(t, dir, append([]string{"run", book, "--input", "who=x", "--json"}, embedded...)...)
	var rep struct{ ID string }
	decodeOne(t, r.stdout, &rep)
	if r := cli(t, dir, append([]string{"runs", "cancel", rep.ID}, embedded...)...); r.code != exitRefused || !strings.Contains(r.stderr, "already ended") {
		t.Errorf("runs cancel of an ended run: exit %d, want 2: %s", r.code, r.stderr)
	}
	if r := cli(t, dir, append([]string{"runs", "prune", "--older-than", "7d"}, embedded...)...); r.code != exitOK || !strings.Contains(r.stdout, "pruned 0") {
		t.Errorf("prune --older-than 7d: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	// Everything ended more than a nanosecond ago.
	if r := cli(t, dir, append([]string{"runs", "prune", "--older-than", "1ns", "--dry-run"}, embedded...)...); r.code != exitOK || !strings.Contains(r.stdout, rep.ID) || !strings.Contains(r.stdout, "would prune 1") {
		t.Errorf("prune --dry-run: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, dir, append([]string{"runs", "prune", "--older-than", "1ns"}, embedded...)...); r.code != exitRefused || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("prune without --yes and no terminal: exit %d, want 2 asking for --yes: %s", r.code, r.stderr)
	}
	if runs := listRuns(t, dir, embedded...); len(runs) != 1 {
		t.Fatalf("runs after the unconfirmed prune: %v, want the run kept", runs)
	}
	if r := cli(t, dir, append([]string{"runs", "prune", "--older-than", "1ns", "--yes"}, embedded...)...); r.code != exitOK || !strings.Contains(r.stdout, "pruned 1") {
		t.Errorf("prune --yes: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}
