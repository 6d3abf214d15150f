package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

// The schedules page lists each schedule with its calendar, next fire and last outcome; the
// admin pauses, resumes and triggers it from the page, the viewer is refused each (the page
// says so and nothing changes), and a trigger leads to the run it started.
func TestSchedulesPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.admin.AddSchedule(ctx, protocol.ScheduleAddRequest{Name: "nightly", Playbook: okBook,
		Spec: protocol.ScheduleSpec{Cron: []string{"0 3 * * *"}}})
	if err != nil {
		t.Fatal(err)
	}
	admin, viewer := e.grant("admin"), e.grant("viewer")
	row := regexp.MustCompile(`<tr class="schedule" data-name="nightly" data-paused="(true|false)">`)
	paused := func() string {
		t.Helper()
		r := e.get("/schedules", viewer)
		m := row.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("schedules page: %d\n%s", r.status, r.body)
		}
		return m[1]
	}
	r := e.get("/schedules", viewer)
	for _, want := range []string{`<td class="spec mono">cron 0 3 * * *</td>`, `<td class="next-fire">20`, `never fired`,
		`<form class="pause-form" method="post" action="/schedules/nightly/pause">`, `<form class="trigger-form"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("schedules page lacks %s", want)
		}
	}
	for _, action := range []string{"pause", "trigger"} {
		r := e.post("/schedules/nightly/"+action, viewer, url.Values{"key": {"v1"}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, action+" nightly refused: ") {
			t.Errorf("viewer's %s: %d\n%s", action, r.status, r.body)
		}
	}
	if p := paused(); p != "false" {
		t.Errorf("after the viewer's pause the schedule is paused=%s", p)
	}
	if r := e.post("/schedules/nightly/pause", admin, url.Values{"note": {"maintenance"}}); r.status != http.StatusSeeOther {
		t.Fatalf("admin's pause: %d\n%s", r.status, r.body)
	}
	if p := paused(); p != "true" {
		t.Errorf("after the admin's pause paused=%s", p)
	}
	if r := e.post("/schedules/nightly/resume", admin, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("admin's resume: %d\n%s", r.status, r.body)
	}
	if p := paused(); p != "false" {
		t.Errorf("after the admin's resume paused=%s", p)
	}
	r = e.post("/schedules/nightly/trigger", admin, url.Values{"key": {"t1"}})
	id, ok := strings.CutPrefix(r.header.Get("Location"), "/runs/")
	if r.status != http.StatusSeeOther || !ok {
		t.Fatalf("trigger: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if rep := e.final(id); rep.Schedule != "nightly" {
		t.Errorf("triggered run %s has schedule %q", id, rep.Schedule)
	}
	if r := e.post("/schedules/nightly/explode", admin, url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("an unknown action: %d", r.status)
	}
	if r := e.get("/schedules", e.grant("stranger")); r.status != http.StatusForbidden || strings.Contains(r.body, "nightly") {
		t.Errorf("a stranger's schedules page: %d\n%s", r.status, r.body)
	}
}
