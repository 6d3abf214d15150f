package console

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

const failBook = `name: failing
version: "1.0.0"
author: console test
description: one failing shell step
tasks:
  - shell:
      command: exit 3
`

// A signed-in identity sees the runs newest first with counts by status; the filters and the
// paging links keep to the query; a bad filter is refused naming its field.
func TestRunsPage(t *testing.T) {
	e := newEnv(t)
	grant := e.grant("viewer")
	ok1 := e.submit(okBook, nil)
	bad := e.submit(failBook, nil)
	ok2 := e.submit(okBook, nil)
	for _, id := range []string{ok1, bad, ok2} {
		e.final(id)
	}
	r := e.get("/runs", grant)
	if r.status != http.StatusOK {
		t.Fatalf("/runs: %d\n%s", r.status, r.body)
	}
	ids := regexp.MustCompile(`<tr class="run" data-id="([^"]+)" data-status="([a-z]+)">`).FindAllStringSubmatch(r.body, -1)
	if len(ids) != 3 || ids[0][1] != ok2 || ids[1][1] != bad || ids[1][2] != "failed" || ids[2][1] != ok1 {
		t.Errorf("runs listed %q, want %s, %s (failed), %s", ids, ok2, bad, ok1)
	}
	for _, want := range []string{`<li data-status="success"><a href="/runs?status=success"><span class="label">success</span> <span class="count">2</span>`,
		`<li data-status="failed"><a href="/runs?status=failed"><span class="label">failed</span> <span class="count">1</span>`,
		`<a class="run-link" href="/runs/` + bad + `">`, `<td class="submitter">admin</td>`, `<a id="first-page" href="/runs">`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/runs lacks %s", want)
		}
	}
	if strings.Contains(r.body, `id="next-page"`) {
		t.Error("the only page has a next-page link")
	}

	r = e.get("/runs?status=failed", grant)
	if n := strings.Count(r.body, `<tr class="run"`); n != 1 || !strings.Contains(r.body, `data-id="`+bad+`"`) {
		t.Errorf("status=failed lists %d runs:\n%s", n, r.body)
	}
	r = e.get("/runs?limit=2&playbook=hello", grant)
	if n := strings.Count(r.body, `<tr class="run"`); n != 2 || strings.Contains(r.body, `id="next-page"`) {
		t.Errorf("limit=2&playbook=hello lists %d runs:\n%s", n, r.body)
	}
	r = e.get("/runs?limit=2", grant)
	if n := strings.Count(r.body, `<tr class="run"`); n != 2 {
		t.Errorf("limit=2 lists %d runs:\n%s", n, r.body)
	}
	next := regexp.MustCompile(`id="next-page" href="([^"]+)"`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no next page")
	}
	r = e.get(strings.ReplaceAll(next[1], "&amp;", "&"), grant)
	if n := strings.Count(r.body, `<tr class="run"`); n != 1 || !strings.Contains(r.body, `data-id="`+ok1+`"`) || strings.Contains(r.body, `id="next-page"`) {
		t.Errorf("page 2 lists %d runs, want only %s:\n%s", n, ok1, r.body)
	}

	for query, field := range map[string]string{"status=done": "status", "since=yesterday": "since", "limit=0": "limit",
		"since=2026-12-03&until=2026-12-01": "until"} {
		r := e.get("/runs?"+query, grant)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid field "+field) {
			t.Errorf("%s: %d, error does not name %s:\n%s", query, r.status, field, r.body)
		}
	}
}
