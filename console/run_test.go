package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// gatedBook's first task waits until the file of input gate exists: the test decides when the
// run goes on, without timing anything.
const gatedBook = `name: gated
version: "1.0.0"
author: console test
description: waits for a file, then says done
inputs:
  gate:
    description: the file to wait for
    type: String
  token:
    description: a secret
    type: String
    sensitive: true
    default: s3cret-default
tasks:
  - shell:
      description: wait for the gate
      command: "while [ ! -f {{{ inputs.gate }}} ]; do sleep 0.05; done; echo gate open"
  - shell:
      description: say done
      command: echo done
`

// finishedGatedRun is a finished run of gatedBook, its gate open from the start and its
// sensitive input token hunter2.
func (e *env) finishedGatedRun() (id, gate string) {
	e.t.Helper()
	gate = filepath.Join(e.t.TempDir(), "gate")
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		e.t.Fatal(err)
	}
	id = e.submit(gatedBook, map[string]any{"gate": gate, "token": "hunter2"})
	e.final(id)
	return id, gate
}

// The run page shows the header (inputs redacted), the timeline of tasks with their states,
// durations and outputs, and, for a finished run, no cancel form.
func TestRunPage(t *testing.T) {
	e := newEnv(t)
	id, _ := e.finishedGatedRun()
	r := e.get("/runs/"+id, e.grant("viewer"))
	if r.status != http.StatusOK {
		t.Fatalf("run page: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{`data-page="run"`, `data-live="false"`, `<section id="run-header" data-id="` + id + `">`,
		`id="run-status" class="badge success" data-status="success">success</span>`, `<dd class="playbook">gated`,
		`<tr data-input="token"><th>token</th><td class="mono sensitive">[redacted]</td></tr>`,
		`<li class="step" data-seq="1" data-state="success">`, `<li class="step" data-seq="2" data-state="success">`,
		`<span class="step-name">wait for the gate</span>`, "gate open", `id="rerun-form"`, `name="input.token"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("run page lacks %s", want)
		}
	}
	if strings.Contains(r.body, "hunter2") || strings.Contains(r.body, `id="cancel-form"`) {
		t.Errorf("run page shows the secret or a cancel form for a finished run:\n%s", r.body)
	}
	if r := e.get("/runs/nosuchrun", e.grant("viewer")); r.status != http.StatusNotFound || !strings.Contains(r.body, "no run nosuchrun") {
		t.Errorf("a missing run: %d\n%s", r.status, r.body)
	}
	if r := e.get("/runs/"+id, e.grant("stranger")); r.status != http.StatusForbidden || strings.Contains(r.body, "gate open") {
		t.Errorf("a key the policy does not name reads the run: %d\n%s", r.status, r.body)
	}
}

// The viewer may not cancel: the policy refuses it and the page says so; the admin cancels with
// a reason, and the run ends cancelled. A cancel without a reason is refused naming the field.
func TestCancelFromTheConsole(t *testing.T) {
	e := newEnv(t)
	gate := filepath.Join(t.TempDir(), "gate")
	id := e.submit(gatedBook, map[string]any{"gate": gate})
	t.Cleanup(func() { _ = os.WriteFile(gate, nil, 0o600) })
	path := "/runs/" + id + "/cancel"
	r := e.post(path, e.grant("viewer"), url.Values{"reason": {"viewer tries"}})
	if r.status != http.StatusForbidden || !regexp.MustCompile(`<p id="error" role="alert">cancel refused: [^<]*forbidden`).MatchString(r.body) {
		t.Errorf("viewer's cancel: %d\n%s", r.status, r.body)
	}
	if rep, err := e.admin.Get(context.Background(), id); err != nil || rep.Status.Final() {
		t.Fatalf("after the viewer's cancel the run is %v (%v)", rep.Status, err)
	}
	r = e.post(path, e.grant("admin"), url.Values{"reason": {" "}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid field reason") {
		t.Errorf("cancel without a reason: %d\n%s", r.status, r.body)
	}
	r = e.post(path, e.grant("admin"), url.Values{"reason": {"wrong tier"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/runs/"+id {
		t.Fatalf("admin's cancel: %d %s\n%s", r.status, r.header.Get("Location"), r.body)
	}
	rep := e.final(id)
	if rep.Status != protocol.StatusCancelled || !strings.Contains(rep.Error, "wrong tier") || rep.CancelledBy.Name != "admin" {
		t.Errorf("run ended %s (%q) by %v, want cancelled by admin for the reason", rep.Status, rep.Error, rep.CancelledBy)
	}
	page := e.get("/runs/"+id, e.grant("viewer"))
	if !strings.Contains(page.body, `data-status="cancelled">cancelled</span>`) {
		t.Errorf("the page does not show the run cancelled:\n%s", page.body)
	}
}

// Rerun submits the playbook again with the same inputs; the sensitive ones must be given again.
// Posting the same form twice gives one run.
func TestRerunFromTheConsole(t *testing.T) {
	e := newEnv(t)
	id, gate := e.finishedGatedRun()
	grant := e.grant("admin")
	r := e.post("/runs/"+id+"/rerun", grant, url.Values{"key": {"k1"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "input.token: sensitive inputs are never kept") {
		t.Errorf("rerun without the sensitive input: %d\n%s", r.status, r.body)
	}
	if r := e.post("/runs/"+id+"/rerun", e.grant("viewer"), url.Values{"key": {"k2"}, "input.token": {"x"}}); r.status != http.StatusForbidden {
		t.Errorf("the viewer's rerun: %d\n%s", r.status, r.body)
	}
	form := url.Values{"key": {"k3"}, "input.token": {"again"}}
	r = e.post("/runs/"+id+"/rerun", grant, form)
	newID, ok := strings.CutPrefix(r.header.Get("Location"), "/runs/")
	if r.status != http.StatusSeeOther || !ok || newID == id {
		t.Fatalf("rerun: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if again := e.post("/runs/"+id+"/rerun", grant, form); again.header.Get("Location") != "/runs/"+newID {
		t.Errorf("the same rerun form posted twice went to %q, then %q", newID, again.header.Get("Location"))
	}
	rep := e.final(newID)
	if rep.Status != protocol.StatusSuccess || rep.Inputs["gate"] != gate || rep.SubmittedBy.Name != "admin" {
		t.Errorf("rerun %s: %s, inputs %v, by %v", newID, rep.Status, rep.Inputs, rep.SubmittedBy)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// The live stream of a running run sends its tasks as they start and finish, with outputs, and
// the run's status, then "end", and closes.
func TestLiveEventsOfARunningRun(t *testing.T) {
	e := newEnv(t)
	gate := filepath.Join(t.TempDir(), "gate")
	id := e.submit(gatedBook, map[string]any{"gate": gate})
	t.Cleanup(func() { _ = os.WriteFile(gate, nil, 0o600) })
	page := e.get("/runs/"+id, e.grant("viewer"))
	if !strings.Contains(page.body, `data-live="true"`) || !strings.Contains(page.body, `id="cancel-form"`) {
		t.Errorf("the page of a running run is not live:\n%s", page.body)
	}

	req, _ := http.NewRequest(http.MethodGet, e.server.URL+"/runs/"+id+"/events", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: e.grant("viewer")})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				events <- ev
				ev = sseEvent{}
			}
		}
	}()
	next := func(want func(sseEvent) bool) sseEvent {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("the stream closed early")
				}
				if want(ev) {
					return ev
				}
			case <-ctx.Done():
				t.Fatal("no such event in time")
			}
		}
	}
	step := func(ev sseEvent) stepView {
		var v stepView
		if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	next(func(ev sseEvent) bool {
		return ev.name == "step" && step(ev).Seq == 1 && step(ev).State == protocol.StepRunning
	})
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	first := next(func(ev sseEvent) bool { return ev.name == "step" && step(ev).Seq == 1 && step(ev).Output != "" })
	if v := step(first); v.State != protocol.StepSuccess || !strings.Contains(v.Output, "gate open") || v.Duration == "" {
		t.Errorf("step 1 finished as %+v", v)
	}
	second := next(func(ev sseEvent) bool {
		return ev.name == "step" && step(ev).Seq == 2 && step(ev).State == protocol.StepSuccess
	})
	if v := step(second); v.Name != "say done" {
		t.Errorf("step 2 %+v", v)
	}
	status := next(func(ev sseEvent) bool { return ev.name == "status" && strings.Contains(ev.data, `"success"`) })
	if !strings.Contains(status.data, `"ended"`) {
		t.Errorf("final status %s", status.data)
	}
	next(func(ev sseEvent) bool { return ev.name == "end" })
	select {
	case _, ok := <-events:
		if ok {
			t.Error("an event after end")
		}
	case <-ctx.Done():
		t.Error("the stream did not close after end")
	}

	// A finished run's stream sends its state and ends at once; a stranger gets none.
	r := e.get("/runs/"+id+"/events", e.grant("viewer"))
	if !strings.Contains(r.body, "event: status") || !strings.HasSuffix(r.body, "event: end\ndata: {}\n\n") {
		t.Errorf("stream of a finished run:\n%s", r.body)
	}
	if r := e.get("/runs/"+id+"/events", e.grant("stranger")); r.status != http.StatusForbidden || strings.Contains(r.body, "event:") {
		t.Errorf("a stranger's stream: %d\n%s", r.status, r.body)
	}
}

// A finished run's stream replays its log lines (with the task they are about) before its
// state and end; the page has the list they go in.
func TestRunLogOfAFinishedRun(t *testing.T) {
	e := newEnv(t)
	id := e.submit(`name: logged
version: "1.0.0"
author: console test
description: writes a log line
tasks:
  - shell:
      command: echo first
  - log:
      message: "careful: <b>twice</b>"
      level: warn
`, nil)
	e.final(id)
	grant := e.grant("viewer")
	r := e.get("/runs/"+id+"/events", grant)
	var line logLine
	for chunk := range strings.SplitSeq(r.body, "\n\n") {
		if data, ok := strings.CutPrefix(chunk, "event: log\ndata: "); ok {
			if err := json.Unmarshal([]byte(data), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line.Msg != "careful: <b>twice</b>" || line.Level != "warn" || line.Task != 2 || line.N == 0 ||
		!strings.HasSuffix(r.body, "event: end\ndata: {}\n\n") || strings.Index(r.body, "event: log") > strings.LastIndex(r.body, "event: status") {
		t.Errorf("log line %+v in the stream:\n%s", line, r.body)
	}
	if page := e.get("/runs/"+id, grant); !strings.Contains(page.body, `<ol id="run-log" class="run-log"></ol>`) {
		t.Errorf("the run page has no log list:\n%s", page.body)
	}
}

// Live streams beyond the console's cap are answered 503 until one ends.
func TestLiveStreamsAreCapped(t *testing.T) {
	e := newEnv(t, WithMaxStreams(1))
	gate := filepath.Join(t.TempDir(), "gate")
	id := e.submit(gatedBook, map[string]any{"gate": gate})
	t.Cleanup(func() { _ = os.WriteFile(gate, nil, 0o600) })
	req, _ := http.NewRequest(http.MethodGet, e.server.URL+"/runs/"+id+"/events", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: e.grant("viewer")})
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.get("/runs/"+id+"/events", e.grant("viewer")); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("a second stream: %d %v", r.status, r.header)
	}
	cancel()
	resp.Body.Close()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.final(id)
	natstest.Eventually(t, wait, func() error {
		if r := e.get("/runs/"+id+"/events", e.grant("viewer")); r.status != http.StatusOK {
			return fmt.Errorf("stream after the first ended: %d", r.status)
		}
		return nil
	})
}
