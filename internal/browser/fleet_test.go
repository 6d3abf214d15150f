package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// The playbooks the tests run. helloBook succeeds with one shell step, failBook fails.
const (
	helloBook = `name: hello
version: "1.0.0"
author: "browser tests"
description: "Greets someone"
inputs:
  who:
    description: "who to greet"
    type: String
tasks:
  - shell:
      description: "greet {{{ inputs.who }}}"
      command: 'echo "hello $WHO"'
      environment:
        WHO: "{{{ inputs.who }}}"
`
	failBook = `name: broken
version: "1.0.0"
author: "browser tests"
description: "Fails"
tasks:
  - shell:
      description: "fail"
      command: "echo about to fail; exit 3"
`
)

// gatedBook is a playbook of steps shell steps; step gateStep (from 1) waits until the file gate
// exists, the others echo their number and take a moment, so a page can be seen to follow them.
func gatedBook(steps, gateStep int, gate string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: gated\nversion: \"1.0.0\"\nauthor: \"browser tests\"\ndescription: \"Steps a test lets through\"\ntasks:\n")
	for i := 1; i <= steps; i++ {
		cmd := fmt.Sprintf(`sleep 0.1; echo "step %d done"`, i)
		if i == gateStep {
			cmd = `while [ ! -e "$GATE" ]; do sleep 0.05; done; echo "gate opened"`
		}
		fmt.Fprintf(&b, "  - shell:\n      description: \"step %d\"\n      command: '%s'\n      timeout: 600\n      environment:\n        GATE: %q\n", i, cmd, gate)
	}
	return b.String()
}

// submit starts a run of doc through the Go client and returns its id.
func (f *fleet) submit(tb testing.TB, doc string, inputs map[string]any) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := f.client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, Inputs: inputs, IdempotencyKey: fmt.Sprintf("browser-%d", time.Now().UnixNano())})
	if err != nil {
		tb.Fatalf("submit: %v", err)
	}
	return resp.RunID
}

// waitRun waits until the Go client reports run id in a final status and returns its report.
func (f *fleet) waitRun(tb testing.TB, id string) *protocol.Report {
	tb.Helper()
	var rep *protocol.Report
	natstest.Eventually(tb, wait, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := f.client.Get(ctx, id)
		if err != nil {
			return err
		}
		if !r.Status.Final() {
			return fmt.Errorf("run %s is %s", id, r.Status)
		}
		rep = r
		return nil
	})
	return rep
}

// httpClient is a client that does not follow redirects, so a test sees the console's 303s.
func httpClient() *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// location returns the tab's URL, parsed.
func location(tb testing.TB, ctx context.Context) *url.URL {
	tb.Helper()
	loc := get(tb, ctx, "read the location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		tb.Fatalf("location %q: %v", redact(loc), err)
	}
	return u
}

// waitLocation waits until the tab's URL satisfies ok (after a form submission or a click that
// navigates), then until the page of kind page is ready.
func waitLocation(tb testing.TB, ctx context.Context, page, what string, ok func(*url.URL) bool) {
	tb.Helper()
	natstest.Eventually(tb, wait, func() error {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		loc, err := chromedp.Run(lctx, chromedp.Location())
		if err != nil {
			return err
		}
		u, err := url.Parse(loc)
		if err != nil || !ok(u) {
			return fmt.Errorf("tab at %s, want %s", redact(loc), what)
		}
		return nil
	})
	do(tb, ctx, "wait for the "+page+" page at "+what, ready(page))
}

// js quotes s as a JavaScript string literal (JSON is a subset).
func js(s string) string { return fmt.Sprintf("%q", s) }

// typeInto replaces the value of the input matching css with text, the way a person does: it
// focuses it, clears it (an input event) and types the text key by key.
func typeInto(css, text string) chromedp.Action[chromedp.Void] {
	clear := fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.focus(); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); return true })()`, js(css))
	steps := []chromedp.Action[chromedp.Void]{chromedp.Evaluate[chromedp.Void](clear)}
	if text != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(css), text))
	}
	return chromedp.Steps(steps...)
}
