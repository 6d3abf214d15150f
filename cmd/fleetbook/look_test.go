package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/fleettest"
	"github.com/fleetbook/fleetbook/internal/natstest"
)

// interruptedRun starts a 3-step ledger run with `run --embedded --data-dir state` and kills it
// (SIGKILL) while step 2 runs, leaving the run interrupted in state. It returns the run id and
// the ledger's path.
func interruptedRun(t *testing.T, dir, state string) (id, path string) {
	t.Helper()
	path = filepath.Join(dir, "ledger")
	book := writeFile(t, dir, "ledger.yaml", fleettest.LedgerPlaybook(3, ledgerStep))
	p := start(t, "run", "run", book, "--embedded", "--data-dir", state, "--input", "ledger="+path, "--input", "sleep=5")
	natstest.Eventually(t, 60*time.Second, func() error {
		for line := range ledger(t, path) {
			if f := strings.Fields(line); len(f) == 3 && f[1] == "2" && f[2] == "start" {
				id = f[0]
				return nil
			}
		}
		return errors.New("step 2 has not started")
	})
	p.kill(syscall.SIGKILL)
	if ledger(t, path)[id+" 2 done"] != 0 {
		t.Fatal("step 2 ended before the run was interrupted; the test proves nothing")
	}
	return id, path
}

// Looking never acts: runs show, runs list and audit on the data dir of an interrupted run start
// no coordinator or worker, so the run stays as it was and its interrupted step is not run again.
func TestLookingNeverActs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	id, path := interruptedRun(t, dir, state)
	embedded := []string{"--embedded", "--data-dir", state}
	for range 3 {
		r := cli(t, dir, append([]string{"runs", "show", id, "--json"}, embedded...)...)
		if r.code != exitOK || !strings.Contains(r.stdout, `"status": "running"`) {
			t.Fatalf("runs show: exit %d, want 0 and the run still running\n%s%s", r.code, r.stdout, r.stderr)
		}
		if runs := listRuns(t, dir, embedded...); len(runs) != 1 || runs[0].ID != id || runs[0].Status != "running" {
			t.Fatalf("runs list: %v, want %s running", runs, id)
		}
		if r := cli(t, dir, append([]string{"audit", "--json"}, embedded...)...); r.code != exitOK || !strings.Contains(r.stdout, id) {
			t.Fatalf("audit: exit %d, want 0 and the submit of %s\n%s%s", r.code, id, r.stdout, r.stderr)
		}
	}
	counts := ledger(t, path)
	if counts[id+" 2 start"] != 1 || counts[id+" 3 start"] != 0 {
		t.Errorf("looking at the run acted on it: ledger %v", counts)
	}
	// A data dir that holds nothing is said so, and is not made.
	empty := filepath.Join(dir, "nothing")
	r := cli(t, dir, "runs", "list", "--embedded", "--data-dir", empty)
	if r.code != exitRefused || !strings.Contains(r.stderr, "no fleetbook state") {
		t.Errorf("runs list on an empty data dir: exit %d, want 2 and \"no fleetbook state\"\n%s", r.code, r.stderr)
	}
	if _, err := filepath.Glob(filepath.Join(empty, "*")); err == nil {
		if m, _ := filepath.Glob(filepath.Join(empty, "*")); len(m) != 0 {
			t.Errorf("runs list made %v", m)
		}
	}
}

// No silent local execution: a client command given no server (no --server, --context,
// $NATS_URL or selected nats context) and no --embedded refuses with exit 3, says how to point at
// a server, and runs nothing; a selected nats context is the server it then uses.
func TestNoServerGivenRunsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	book := writeFile(t, dir, "touch.yaml", strings.Replace(okBook, `echo "hello $WHO"`, "touch "+marker, 1))
	for _, args := range [][]string{
		{"run", book, "--input", "who=x"},
		{"runs", "list"},
		{"runs", "show", "some-id"},
		{"audit"},
	} {
		r := cli(t, dir, args...)
		if r.code != exitInfra || !strings.Contains(r.stderr, "--server") || !strings.Contains(r.stderr, "--embedded") {
			t.Errorf("fleetbook %s: exit %d, want 3 saying how to point at a server\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 1 {
		t.Errorf("a command without a server left %v (want only the book and nothing run)", m)
	}
	// The context the user selected is used: here it points at a port nobody serves.
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "nats", "context"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, "nats", "context"), "nowhere.json", `{"url": "nats://127.0.0.1:1"}`)
	writeFile(t, filepath.Join(home, "nats"), "context.txt", "nowhere")
	r := cliEnv(t, dir, []string{"XDG_CONFIG_HOME=" + home}, "runs", "list")
	if r.code != exitInfra || !strings.Contains(r.stderr, "connect to NATS") {
		t.Errorf("runs list with a selected context: exit %d, want 3 from connecting to it\nstderr: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the playbook ran")
	}
}

// Honest state: every task of a report has its state; a task still running shows how long it
// has been running (never a duration from the zero time); task numbers in the run's error and in
// the report agree, both from 1.
func TestHonestState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	id, _ := interruptedRun(t, dir, state)
	embedded := []string{"--embedded", "--data-dir", state}
	r := cli(t, dir, append([]string{"runs", "show", id, "--json"}, embedded...)...)
	var rep struct {
		Status string `json:"status"`
		Tasks  []struct {
			Number  int    `json:"number"`
			Key     string `json:"key"`
			State   string `json:"state"`
			Success bool   `json:"success"`
		} `json:"tasks"`
	}
	decodeOne(t, r.stdout, &rep)
	if rep.Status != "running" || len(rep.Tasks) != 2 || rep.Tasks[0].State != "success" || rep.Tasks[1].State != "running" ||
		rep.Tasks[1].Success || rep.Tasks[1].Number != 2 || rep.Tasks[1].Key != "tasks[1]" {
		t.Errorf("report of the interrupted run: %+v, want running with step 1 success and step 2 (number 2, tasks[1]) running", rep)
	}
	r = cli(t, dir, append([]string{"runs", "show", id}, embedded...)...)
	for _, want := range []string{"Running: for ", ` 2. [tasks] shell "step 2": running, tries 1, running for `, "ledger = "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL") || strings.Contains(r.stdout, "-2562047h") {
		t.Errorf("text report shows a running task as failed or with a negative duration:\n%s", r.stdout)
	}
	if r := cli(t, dir, append([]string{"runs", "list"}, embedded...)...); !strings.Contains(r.stdout, "so far") {
		t.Errorf("runs list does not show the running run's elapsed time:\n%s", r.stdout)
	}

	// A failed run's error names its task by the report's number.
	book := writeFile(t, dir, "broken.yaml", failBook)
	r = cli(t, dir, "run", book, "--embedded", "--data-dir", filepath.Join(dir, "other"), "--json")
	var failed struct {
		Error string `json:"error"`
		Tasks []struct {
			Number int    `json:"number"`
			State  string `json:"state"`
		} `json:"tasks"`
	}
	decodeOne(t, r.stdout, &failed)
	if !strings.HasPrefix(failed.Error, "task 1, tasks[0] ") || len(failed.Tasks) != 1 || failed.Tasks[0].Number != 1 || failed.Tasks[0].State != "failed" {
		t.Errorf("failed run: error %q, tasks %+v; want the error to name task 1, failed", failed.Error, failed.Tasks)
	}
}
