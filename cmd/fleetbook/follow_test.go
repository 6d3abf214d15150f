package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/fleettest"
	"github.com/fleetbook/fleetbook/internal/natstest"
)

// Follow and read any run, against `fleetbook up`: runs watch re-attaches with live progress and
// exits with the run's code; runs logs prints the execution log (text, JSON, --follow); runs list
// filters and pages; runs rerun submits the same playbook and inputs, sensitive ones given again.
func TestFollowAndReadAnyRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	startUp(t, dir, state, listen)
	server := []string{"--context", filepath.Join(state, "auth", "context.json")}
	c := func(args ...string) result { return cli(t, dir, append(args, server...)...) }
	detached := func(book string, args ...string) string {
		r := c(append([]string{"run", book, "--detach"}, args...)...)
		if r.code != exitOK {
			t.Fatalf("run --detach: exit %d: %s", r.code, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	hello := writeFile(t, dir, "hello.yaml", okBook)
	broken := writeFile(t, dir, "broken.yaml", failBook)
	slow := writeFile(t, dir, "ledger.yaml", fleettest.LedgerPlaybook(2, ledgerStep))

	slowID := detached(slow, "--input", "ledger="+filepath.Join(dir, "ledger"), "--input", "sleep=2")
	r := c("runs", "watch", slowID)
	if r.code != exitOK || !strings.Contains(r.stderr, `start tasks shell "step 2"`) || !strings.Contains(r.stdout, "Status:  success") {
		t.Errorf("runs watch of a running run: exit %d, want 0 with its progress and report\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	brokenID := detached(broken)
	if r := c("runs", "watch", brokenID, "--json"); r.code != exitFailed || !strings.Contains(r.stdout, `"status": "failed"`) {
		t.Errorf("runs watch of a failing run: exit %d, want 1 and its report\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := c("runs", "watch", "01a23804-2498-7e0a-b98d-90aa24846c01"); r.code != exitRefused {
		t.Errorf("runs watch of no run: exit %d, want 2", r.code)
	}

	// The execution log of a past run, as text and as JSON lines.
	r = c("runs", "logs", slowID)
	if r.code != exitOK || !strings.Contains(r.stdout, `ok    tasks shell "step 1"`) || !strings.Contains(r.stdout, "run "+slowID+" success") {
		t.Errorf("runs logs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = c("runs", "logs", slowID, "--json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["type"] == nil {
			t.Errorf("runs logs --json line %q is not an event: %v", l, err)
		}
	}
	if len(lines) < 5 {
		t.Errorf("runs logs --json printed %d events, want the run's start, 2 tasks started and finished, and its end", len(lines))
	}
	followID := detached(slow, "--input", "ledger="+filepath.Join(dir, "ledger"), "--input", "sleep=2")
	if r := c("runs", "logs", followID, "--follow"); r.code != exitOK || !strings.Contains(r.stdout, "run "+followID+" success") {
		t.Errorf("runs logs --follow: exit %d, want the log to the run's end\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Filters and paging.
	helloID := detached(hello, "--input", "who=again")
	natstest.Eventually(t, 60*time.Second, func() error {
		if r := c("runs", "show", helloID, "--json"); !strings.Contains(r.stdout, `"status": "success"`) {
			return fmt.Errorf("run %s not done", helloID)
		}
		return nil
	})
	ids := func(args ...string) []string {
		t.Helper()
		var out []string
		for _, run := range listRuns(t, dir, append(args, server...)...) {
			out = append(out, run.ID)
		}
		return out
	}
	if got := ids("--status", "failed"); len(got) != 1 || got[0] != brokenID {
		t.Errorf("--status failed: %v, want [%s]", got, brokenID)
	}
	if got := ids("--playbook", "hello"); len(got) != 1 || got[0] != helloID {
		t.Errorf("--playbook hello: %v, want [%s]", got, helloID)
	}
	if got := ids("--since", "1d"); len(got) != 4 {
		t.Errorf("--since 1d: %v, want all 4 runs", got)
	}
	if got := ids("--until", "1h"); len(got) != 0 {
		t.Errorf("--until 1h: %v, want none", got)
	}
	if got := ids("--submitter", "nobody"); len(got) != 0 {
		t.Errorf("--submitter nobody: %v, want none", got)
	}
	r = c("runs", "list", "--limit", "2", "--json")
	var page struct {
		Runs []listedRun `json:"runs"`
		Next string      `json:"next"`
	}
	decodeOne(t, r.stdout, &page)
	if len(page.Runs) != 2 || page.Next != page.Runs[1].ID {
		t.Fatalf("--limit 2: %+v, want 2 runs and the next page's cursor", page)
	}
	if got := ids("--limit", "2", "--before", page.Next); len(got) != 2 || got[0] == page.Runs[0].ID || got[0] == page.Runs[1].ID {
		t.Errorf("the second page %v repeats the first %v", got, page.Runs)
	}
	if r := c("runs", "list", "--status", "nosuch"); r.code != exitRefused || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("--status nosuch: exit %d, want 2 naming it: %s", r.code, r.stderr)
	}

	// The text report shows the inputs, the sensitive one redacted.
	r = c("runs", "show", helloID)
	if !strings.Contains(r.stdout, `who = "again"`) || !strings.Contains(r.stdout, "secret = ") || strings.Contains(r.stdout, "hunter2") {
		t.Errorf("text report inputs:\n%s", r.stdout)
	}
	// Rerun: the sensitive input must be given again; then the same playbook and inputs run.
	if r := c("runs", "rerun", helloID); r.code != exitRefused || !strings.Contains(r.stderr, "secret") {
		t.Errorf("rerun without the sensitive input: exit %d, want 2 naming it: %s", r.code, r.stderr)
	}
	r = c("runs", "rerun", helloID, "--input", "secret=s3", "--json")
	var rep struct {
		ID     string         `json:"id"`
		Status string         `json:"status"`
		Inputs map[string]any `json:"inputs"`
	}
	decodeOne(t, r.stdout, &rep)
	if r.code != exitOK || rep.ID == helloID || rep.Status != "success" || rep.Inputs["who"] != "again" {
		t.Errorf("rerun: exit %d, report %+v; want a new successful run with who=again\n%s", r.code, rep, r.stderr)
	}
}
