package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
)

const okBook = `name: hello
version: "1.2.0"
author: "fleetbook tests"
description: "Greets someone"
inputs:
  who:
    description: "who to greet"
    type: String
  secret:
    description: "never shown"
    type: String
    required: false
    default: "hunter2"
    sensitive: true
tasks:
  - shell:
      description: "greet {{{ inputs.who }}}"
      command: 'echo "hello $WHO"'
      environment:
        WHO: "{{{ inputs.who }}}"
`

const failBook = `name: broken
version: "0.1.0"
author: "fleetbook tests"
description: "Fails"
tasks:
  - shell:
      description: "fail"
      command: "echo about to fail; exit 3"
`

// decodeOne decodes s as exactly one JSON document, failing the test if there is anything else.
func decodeOne(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s", err, s)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document (%v):\n%s", err, s)
	}
}

// keys fails the test unless m has every one of names.
func keys(t *testing.T, what string, m map[string]any, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := m[n]; !ok {
			t.Errorf("%s has no %q: %v", what, n, m)
		}
	}
}

// An embedded run that succeeds exits 0 and, with --json, prints exactly one report with the
// fields of protocol.Report on stdout, while progress goes to stderr (README.md, "A short tour").
func TestRunJSONReportContract(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := writeFile(t, dir, "hello.yaml", okBook)
	r := cli(t, dir, "run", book, "--embedded", "--data-dir", filepath.Join(dir, "state"), "--input", "who=world", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	var rep map[string]any
	decodeOne(t, r.stdout, &rep)
	keys(t, "report", rep, "id", "playbook", "status", "error", "inputs", "nodes", "started_at", "ended_at", "tasks")
	if rep["status"] != "success" {
		t.Errorf("status %v, want success", rep["status"])
	}
	pb, _ := rep["playbook"].(map[string]any)
	if pb["name"] != "hello" || pb["version"] != "1.2.0" {
		t.Errorf("playbook %v, want hello 1.2.0", pb)
	}
	inputs, _ := rep["inputs"].(map[string]any)
	if inputs["who"] != "world" || inputs["secret"] == "hunter2" {
		t.Errorf("inputs %v: want who=world and the sensitive secret redacted", inputs)
	}
	if strings.Contains(r.stdout+r.stderr, "hunter2") {
		t.Error("the sensitive input's value was printed")
	}
	tasks, _ := rep["tasks"].([]any)
	if len(tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(tasks))
	}
	task, _ := tasks[0].(map[string]any)
	keys(t, "task", task, "list", "type", "description", "success", "msg", "tries", "data", "started_at", "ended_at")
	if task["list"] != "tasks" || task["type"] != "shell" || task["description"] != "greet world" ||
		task["success"] != true || task["tries"] != float64(1) || task["data"] != "hello world\n" {
		t.Errorf("task %v", task)
	}
	for _, want := range []string{"start", `"greet world"`, "success"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "level=ERROR") {
		t.Errorf("a clean run logged an error:\n%s", r.stderr)
	}
}

// A run that fails exits 1 and still reports.
func TestRunFailedExitsOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := writeFile(t, dir, "broken.yaml", failBook)
	r := cli(t, dir, "run", book, "--embedded", "--data-dir", filepath.Join(dir, "state"), "--json")
	if r.code != exitFailed {
		t.Fatalf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	var rep map[string]any
	decodeOne(t, r.stdout, &rep)
	if rep["status"] != "failed" {
		t.Errorf("status %v, want failed", rep["status"])
	}
}

// Refused runs exit 2, name the problem, and store nothing.
func TestRunRefusedExitsTwoAndStoresNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	for _, tc := range []struct {
		name, doc string
		args      []string
		want      string
	}{
		{name: "bad yaml", doc: "name: [unclosed\n", want: "line"},
		{name: "unknown key", doc: strings.Replace(okBook, "tasks:", "taskz: []\ntasks:", 1), args: []string{"--input", "who=x"}, want: "taskz"},
		{name: "missing input", doc: okBook, want: "who"},
		{name: "unknown flag", doc: okBook, args: []string{"--no-such-flag"}, want: "no-such-flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			book := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml", tc.doc)
			r := cli(t, dir, append([]string{"run", book, "--embedded", "--data-dir", state}, tc.args...)...)
			if r.code != exitRefused {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, r.stderr)
			}
		})
	}
	if runs := storedRuns(t, dir, state); len(runs) != 0 {
		t.Errorf("refused runs were stored: %v", runs)
	}
}

// runs prune deletes ended runs older than --older-than, and refuses a missing age.
func TestRunsPrune(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	book := writeFile(t, dir, "broken.yaml", failBook)
	if r := cli(t, dir, "run", book, "--embedded", "--data-dir", state); r.code != exitFailed {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	if r := cli(t, dir, "runs", "prune", "--embedded", "--data-dir", state); r.code != exitRefused || !strings.Contains(r.stderr, "--older-than") {
		t.Fatalf("prune without an age: exit %d: %s", r.code, r.stderr)
	}
	// An hour is longer than the run has existed: nothing goes.
	prune := func(age string) int {
		r := cli(t, dir, "runs", "prune", "--yes", "--older-than", age, "--embedded", "--data-dir", state, "--json")
		if r.code != exitOK {
			t.Fatalf("prune --older-than %s: exit %d: %s", age, r.code, r.stderr)
		}
		var out struct{ Pruned int }
		decodeOne(t, r.stdout, &out)
		return out.Pruned
	}
	if n := prune("1h"); n != 0 {
		t.Errorf("prune --older-than 1h deleted %d runs, want 0", n)
	}
	time.Sleep(1100 * time.Millisecond)
	if n := prune("1s"); n != 1 {
		t.Errorf("prune --older-than 1s deleted %d runs, want 1", n)
	}
	if runs := storedRuns(t, dir, state); len(runs) != 0 {
		t.Errorf("runs left after the prune: %v", runs)
	}
}

// No reachable server is an infrastructure failure: exit 3.
func TestNoServerExitsThree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := writeFile(t, dir, "hello.yaml", okBook)
	for _, args := range [][]string{
		{"run", book, "--input", "who=x", "--server", "nats://127.0.0.1:1"},
		{"runs", "list", "--server", "nats://127.0.0.1:1"},
		{"runs", "show", "some-id", "--server", "nats://127.0.0.1:1"},
	} {
		if r := cli(t, dir, args...); r.code != exitInfra {
			t.Errorf("fleetbook %s: exit %d, want 3\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// Runs made with --embedded --data-dir, then with `up`, are listed and shown by later processes,
// also after `up` restarts. `run --detach --json` prints {"id": ...} once the run is accepted.
func TestPastRunsPersist(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	book := writeFile(t, dir, "hello.yaml", okBook)

	r := cli(t, dir, "run", book, "--embedded", "--data-dir", state, "--input", "who=embedded", "--json")
	if r.code != exitOK {
		t.Fatalf("embedded run: exit %d: %s", r.code, r.stderr)
	}
	var first struct{ ID string }
	decodeOne(t, r.stdout, &first)
	embedded := []string{"--embedded", "--data-dir", state}
	checkListed(t, dir, embedded, first.ID)
	checkShown(t, dir, embedded, first.ID, "greet embedded")

	// The same state, served by `up`.
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	up := startUp(t, dir, state, listen)
	// The nats context `up` writes for its operator is all a client needs.
	server := []string{"--context", filepath.Join(state, "auth", "context.json")}
	if r := cli(t, dir, "runs", "list", "--server", "nats://"+listen, "--data-dir", filepath.Join(dir, "elsewhere")); r.code != exitInfra ||
		!strings.Contains(r.stderr, "Authorization Violation") {
		t.Errorf("runs list without credentials: exit %d, want 3 and an authorization violation\nstderr: %s", r.code, r.stderr)
	}
	r = cli(t, dir, "run", book, "--input", "who=up", "--json", server[0], server[1])
	if r.code != exitOK {
		t.Fatalf("run against up: exit %d: %s", r.code, r.stderr)
	}
	var second struct{ ID string }
	decodeOne(t, r.stdout, &second)
	r = cli(t, dir, "run", book, "--input", "who=detached", "--detach", "--json", server[0], server[1])
	if r.code != exitOK {
		t.Fatalf("run --detach: exit %d: %s", r.code, r.stderr)
	}
	var detached map[string]string
	decodeOne(t, r.stdout, &detached)
	if len(detached) != 1 || detached["id"] == "" {
		t.Fatalf("run --detach --json printed %q, want {\"id\": ...}", r.stdout)
	}
	r = cli(t, dir, "run", book, "--input", "who=plain", "--detach", server[0], server[1])
	plain := strings.TrimSpace(r.stdout)
	if r.code != exitOK || strings.ContainsAny(plain, " \n{") || plain == "" {
		t.Fatalf("run --detach: exit %d, stdout %q, want the run id alone\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, id := range []string{detached["id"], plain} {
		natstest.Eventually(t, 30*time.Second, func() error {
			r := cli(t, dir, "runs", "show", id, "--json", server[0], server[1])
			if !strings.Contains(r.stdout, `"status": "success"`) {
				return fmt.Errorf("detached run %s not done: exit %d %s%s", id, r.code, r.stdout, r.stderr)
			}
			return nil
		})
	}
	up.stop(t)
	if b, _ := readLog(up); bytes.Contains(b, []byte("level=ERROR")) {
		t.Errorf("up logged an error:\n%s", b)
	}

	startUp(t, dir, state, listen)
	checkListed(t, dir, server, first.ID, second.ID, detached["id"], plain)
	checkShown(t, dir, server, second.ID, "greet up")
	checkShown(t, dir, server, detached["id"], "greet detached")
}

// startUp starts `fleetbook up` and waits until it answers.
func startUp(t *testing.T, dir, state, listen string) *proc {
	t.Helper()
	p := start(t, "up", "up", "--data-dir", state, "--listen", listen)
	natstest.Eventually(t, 30*time.Second, func() error {
		if r := cli(t, dir, "runs", "list", "--server", "nats://"+listen, "--data-dir", state); r.code != exitOK {
			return fmt.Errorf("up not answering: exit %d: %s", r.code, r.stderr)
		}
		return nil
	})
	return p
}

func readLog(p *proc) ([]byte, error) {
	<-p.done
	return os.ReadFile(p.log)
}

// listedRun is one run of `runs list --json`.
type listedRun struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// listRuns returns the runs `runs list --json` (with conn flags) lists, and fails the test unless
// it exits 0.
func listRuns(t *testing.T, dir string, conn ...string) []listedRun {
	t.Helper()
	r := cli(t, dir, append([]string{"runs", "list", "--json"}, conn...)...)
	if r.code != exitOK {
		t.Fatalf("runs list: exit %d: %s", r.code, r.stderr)
	}
	var list struct {
		Runs []listedRun `json:"runs"`
	}
	decodeOne(t, r.stdout, &list)
	return list.Runs
}

// storedRuns is listRuns of the data dir state, or nothing when no store was ever made there
// (which `runs list --embedded` says, exit 2, without making one).
func storedRuns(t *testing.T, dir, state string) []listedRun {
	t.Helper()
	if _, err := os.Stat(filepath.Join(state, "jetstream")); errors.Is(err, os.ErrNotExist) {
		if r := cli(t, dir, "runs", "list", "--embedded", "--data-dir", state); r.code != exitRefused || !strings.Contains(r.stderr, "no fleetbook state") {
			t.Fatalf("runs list on a data dir with no store: exit %d, want 2: %s", r.code, r.stderr)
		}
		return nil
	}
	return listRuns(t, dir, "--embedded", "--data-dir", state)
}

// checkListed fails the test unless `runs list --json` (with conn flags) lists every id.
func checkListed(t *testing.T, dir string, conn []string, ids ...string) {
	t.Helper()
	var got []string
	for _, run := range listRuns(t, dir, conn...) {
		got = append(got, run.ID)
	}
	for _, id := range ids {
		if !slices.Contains(got, id) {
			t.Errorf("runs list lacks %s: %v", id, got)
		}
	}
	text := cli(t, dir, append([]string{"runs", "list"}, conn...)...)
	for _, id := range ids {
		if !strings.Contains(text.stdout, id) {
			t.Errorf("runs list (text) lacks %s:\n%s", id, text.stdout)
		}
	}
}

// checkShown fails the test unless `runs show ID --json` reports a success with one task
// described as desc.
func checkShown(t *testing.T, dir string, conn []string, id, desc string) {
	t.Helper()
	r := cli(t, dir, append([]string{"runs", "show", id, "--json"}, conn...)...)
	if r.code != exitOK {
		t.Fatalf("runs show %s: exit %d: %s", id, r.code, r.stderr)
	}
	var rep struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Tasks  []struct {
			Description string `json:"description"`
		} `json:"tasks"`
	}
	decodeOne(t, r.stdout, &rep)
	if rep.ID != id || rep.Status != "success" || len(rep.Tasks) != 1 || rep.Tasks[0].Description != desc {
		t.Errorf("runs show %s: %+v, want success with task %q", id, rep, desc)
	}
}
