package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/fleetbook/fleetbook/protocol"
)

// maxInputShown is how much of an input's value the run header shows: a list of 10,000
// targets is not a header.
const maxInputShown = 2000

// maxReasonLen bounds a cancel reason: one sentence for the audit and the run's error.
const maxReasonLen = 500

// stepView is one task of a run's timeline, as the page renders it and as the live stream sends
// it (event "step").
type stepView struct {
	Seq      int                `json:"seq"`
	Name     string             `json:"name"`
	List     string             `json:"list"`
	Type     string             `json:"type"`
	State    protocol.StepState `json:"state"`
	Duration string             `json:"duration,omitempty"`
	Msg      string             `json:"msg,omitempty"`
	Output   string             `json:"output,omitempty"`
	Tries    int                `json:"tries,omitempty"`
	Child    string             `json:"child,omitempty"`
	// NodesTotal, NodesOK and NodesFailed count the per-node outcomes of an rpc task, whose rows
	// come from the nodes endpoint (runs.nodes).
	NodesTotal  int `json:"nodes_total,omitempty"`
	NodesOK     int `json:"nodes_ok,omitempty"`
	NodesFailed int `json:"nodes_failed,omitempty"`
}

// stepOf is the view of task t of a report.
func stepOf(t protocol.TaskReport) stepView {
	v := stepView{Seq: t.Number, Name: t.Description, List: t.List, Type: t.Type, State: t.State,
		Duration: duration(t.StartedAt, t.EndedAt), Msg: t.Msg, Output: value(t.Data), Tries: t.Tries, Child: t.Child,
		NodesTotal: t.NodesOK + t.NodesFailed, NodesOK: t.NodesOK, NodesFailed: t.NodesFailed}
	if v.Name == "" {
		v.Name = t.Key
	}
	return v
}

// inputView is one input of a run's header.
type inputView struct {
	Name, Value string
	Sensitive   bool
}

// runData is what a run's page shows.
type runData struct {
	Report    *protocol.Report
	Inputs    []inputView
	Steps     []stepView
	Children  []string
	Final     bool
	Sensitive []string
	// RerunKey makes the rerun form's submission idempotent: posting it twice gives one run.
	RerunKey string
	Err      string
}

func (d runData) pageError() string { return d.Err }

func (d runData) live() string {
	if d.Report == nil || d.Final {
		return "false"
	}
	return "true"
}

// runPage shows run ID: its header, the timeline of its tasks with their output and node
// tables, and the cancel and rerun forms.
func (c *Console) runPage(w http.ResponseWriter, r *http.Request, s *userSession) {
	c.showRun(w, r, s, http.StatusOK, "")
}

// showRun renders the page of the run of r's path, with errText in #error and status (when the
// run itself can be read).
func (c *Console) showRun(w http.ResponseWriter, r *http.Request, s *userSession, status int, errText string) {
	id := r.PathValue("id")
	if !protocol.ValidToken(id) {
		c.render(w, http.StatusBadRequest, "run", s, runData{Err: fmt.Sprintf("%v id: %q is not a run id", ErrBadField, id)})
		return
	}
	ctx, cancel := c.apiContext(r)
	defer cancel()
	rep, err := s.client.Get(ctx, id)
	if err != nil {
		c.render(w, apiStatus(err), "run", s, runData{Err: err.Error()})
		return
	}
	c.render(w, status, "run", s, runDataOf(rep, errText))
}

// runDataOf is the page of report rep.
func runDataOf(rep *protocol.Report, errText string) runData {
	d := runData{Report: rep, Final: rep.Status.Final(), RerunKey: uuid.NewString(), Err: errText}
	names := make([]string, 0, len(rep.Inputs))
	for k := range rep.Inputs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := value(rep.Inputs[k])
		sensitive := strings.Contains(v, protocol.Redacted)
		if len(v) > maxInputShown {
			v = fmt.Sprintf("%s… (%d characters in all)", strings.ToValidUTF8(v[:maxInputShown], ""), len(v))
		}
		if sensitive {
			d.Sensitive = append(d.Sensitive, k)
		}
		d.Inputs = append(d.Inputs, inputView{Name: k, Value: v, Sensitive: sensitive})
	}
	for _, t := range rep.Tasks {
		d.Steps = append(d.Steps, stepOf(t))
		if t.Child != "" {
			d.Children = append(d.Children, t.Child)
		}
	}
	return d
}

// cancelRun asks for the run to be stopped, as the signed-in identity, with the form's reason.
// The policy decides; a refusal shows on the run's page.
func (c *Console) cancelRun(w http.ResponseWriter, r *http.Request, s *userSession) {
	id := r.PathValue("id")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	switch {
	case !protocol.ValidToken(id):
		c.render(w, http.StatusBadRequest, "run", s, runData{Err: fmt.Sprintf("%v id: %q is not a run id", ErrBadField, id)})
		return
	case reason == "":
		c.showRun(w, r, s, http.StatusBadRequest, fmt.Sprintf("%v reason: say why the run is cancelled", ErrBadField))
		return
	case len(reason) > maxReasonLen:
		c.showRun(w, r, s, http.StatusBadRequest, fmt.Sprintf("%v reason: %d characters, at most %d", ErrBadField, len(reason), maxReasonLen))
		return
	}
	ctx, cancel := c.apiContext(r)
	defer cancel()
	if _, err := s.client.Cancel(ctx, id, reason); err != nil {
		c.showRun(w, r, s, apiStatus(err), "cancel refused: "+err.Error())
		return
	}
	http.Redirect(w, r, "/runs/"+id, http.StatusSeeOther)
}

// rerunRun submits the run's playbook again, as `fleetbook runs rerun` does: the same document,
// source and child playbooks, the same inputs, with the sensitive ones (never kept) given again
// in the form's input.NAME fields. The new run is the signed-in identity's.
func (c *Console) rerunRun(w http.ResponseWriter, r *http.Request, s *userSession) {
	id := r.PathValue("id")
	key := strings.TrimSpace(r.PostFormValue("key"))
	if !protocol.ValidToken(id) {
		c.render(w, http.StatusBadRequest, "run", s, runData{Err: fmt.Sprintf("%v id: %q is not a run id", ErrBadField, id)})
		return
	}
	if key == "" || !protocol.ValidToken(key) {
		key = uuid.NewString()
	}
	ctx, cancel := c.apiContext(r)
	defer cancel()
	old, err := s.client.GetWithDocument(ctx, id)
	if err != nil {
		c.showRun(w, r, s, apiStatus(err), "rerun: "+err.Error())
		return
	}
	if old.Document == "" {
		c.showRun(w, r, s, http.StatusBadGateway, "rerun: the coordinator sent no playbook document for run "+id)
		return
	}
	inputs := map[string]any{}
	var missing []string
	for k, v := range old.Inputs {
		given := strings.TrimSpace(r.PostFormValue("input." + k))
		str, _ := v.(string)
		switch {
		case given != "":
			inputs[k] = given
		case strings.Contains(str, protocol.Redacted):
			missing = append(missing, k)
		default:
			inputs[k] = v
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		c.showRun(w, r, s, http.StatusBadRequest, fmt.Sprintf("%v input.%s: sensitive inputs are never kept: give them again",
			ErrBadField, strings.Join(missing, ", input.")))
		return
	}
	resp, err := s.client.Submit(ctx, protocol.SubmitRequest{Playbook: old.Document, Source: old.Source, Inputs: inputs,
		IdempotencyKey: "console-rerun-" + key, Files: old.Files})
	if err != nil {
		c.showRun(w, r, s, apiStatus(err), "rerun refused: "+err.Error())
		return
	}
	http.Redirect(w, r, "/runs/"+resp.RunID, http.StatusSeeOther)
}
