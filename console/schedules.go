package console

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/fleetbook/fleetbook/protocol"
)

// scheduleView is one schedule of the schedules page.
type scheduleView struct {
	protocol.ScheduleSummary
	SpecText string
}

// schedulesData is what the schedules page shows.
type schedulesData struct {
	Schedules []scheduleView
	// TriggerKey makes a trigger form's submission idempotent: posted twice, one run.
	TriggerKey string
	Err        string
}

func (d schedulesData) pageError() string { return d.Err }

// schedulesPage lists the schedules the signed-in identity may read, with their next fire and
// last outcome, and the pause, resume and trigger forms.
func (c *Console) schedulesPage(w http.ResponseWriter, r *http.Request, s *userSession) {
	c.showSchedules(w, r, s, http.StatusOK, "")
}

func (c *Console) showSchedules(w http.ResponseWriter, r *http.Request, s *userSession, status int, errText string) {
	ctx, cancel := c.apiContext(r)
	defer cancel()
	data := schedulesData{TriggerKey: uuid.NewString(), Err: errText}
	list, err := s.client.ListSchedules(ctx)
	if err != nil {
		data.Err = strings.TrimPrefix(errText+"; ", "; ") + err.Error()
		c.render(w, apiStatus(err), "schedules", s, data)
		return
	}
	for _, sc := range list {
		data.Schedules = append(data.Schedules, scheduleView{ScheduleSummary: sc, SpecText: specText(sc.Spec)})
	}
	c.render(w, status, "schedules", s, data)
}

// specText is a schedule's calendar in one line.
func specText(sp protocol.ScheduleSpec) string {
	var parts []string
	if len(sp.Cron) > 0 {
		parts = append(parts, "cron "+strings.Join(sp.Cron, " | "))
	}
	if sp.Every != "" {
		every := "every " + sp.Every
		if sp.Offset != "" {
			every += " offset " + sp.Offset
		}
		parts = append(parts, every)
	}
	if sp.TimeZone != "" {
		parts = append(parts, "in "+sp.TimeZone)
	}
	if sp.Jitter != "" {
		parts = append(parts, "jitter "+sp.Jitter)
	}
	return strings.Join(parts, ", ")
}

// scheduleAction pauses, resumes or triggers a schedule as the signed-in identity; the policy
// decides (the schedule action), a refusal shows on the schedules page.
func (c *Console) scheduleAction(w http.ResponseWriter, r *http.Request, s *userSession) {
	name, action := r.PathValue("name"), r.PathValue("action")
	if !protocol.ValidToken(name) {
		c.showSchedules(w, r, s, http.StatusBadRequest, fmt.Sprintf("%v name: %q is not a schedule name", ErrBadField, name))
		return
	}
	ctx, cancel := c.apiContext(r)
	defer cancel()
	note := strings.TrimSpace(r.PostFormValue("note"))
	if len(note) > maxReasonLen {
		c.showSchedules(w, r, s, http.StatusBadRequest, fmt.Sprintf("%v note: %d characters, at most %d", ErrBadField, len(note), maxReasonLen))
		return
	}
	var err error
	switch action {
	case "pause", "resume":
		_, err = s.client.PauseSchedule(ctx, name, action == "pause", note)
	case "trigger":
		key := strings.TrimSpace(r.PostFormValue("key"))
		if !protocol.ValidToken(key) {
			key = uuid.NewString()
		}
		var resp *protocol.ScheduleActionResponse
		resp, err = s.client.TriggerSchedule(ctx, name, "console-"+key)
		if err == nil && len(resp.Slots) == 1 && resp.Slots[0].RunID != "" {
			http.Redirect(w, r, "/runs/"+resp.Slots[0].RunID, http.StatusSeeOther)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		c.showSchedules(w, r, s, apiStatus(err), action+" "+name+" refused: "+err.Error())
		return
	}
	http.Redirect(w, r, "/schedules", http.StatusSeeOther)
}
