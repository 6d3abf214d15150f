package coordinator

import (
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// ReportOf builds the report of a run from its record, with sensitive inputs redacted.
func ReportOf(rec *protocol.RunRecord) *protocol.Report {
	r := &protocol.Report{
		ID: rec.ID, Playbook: rec.Playbook, Status: rec.Status, Error: rec.Error,
		Inputs: redactedInputs(rec), Nodes: rec.Nodes, StartedAt: rec.StartedAt, EndedAt: rec.EndedAt,
		Tasks: []protocol.TaskReport{},
	}
	if r.Nodes == nil {
		r.Nodes = map[string][]string{}
	}
	for _, st := range rec.Steps {
		if !st.Done && st.Attempt == 0 || st.List == string(listDiscover) {
			continue // begun but not tried yet (in pre_sleep), or not a task of the playbook
		}
		r.Tasks = append(r.Tasks, protocol.TaskReport{
			List: st.List, Type: st.Type, Description: st.Description, Success: st.Success, Msg: st.Msg,
			Tries: st.Attempt, Data: st.Data, Nodes: st.Nodes, Child: st.Child, StartedAt: st.StartedAt, EndedAt: st.EndedAt,
		})
	}
	return r
}

// redactedInputs hides the values of inputs the playbook marks sensitive. The stored document
// says which they are; if it cannot be read, every value is hidden rather than risk one.
func redactedInputs(rec *protocol.RunRecord) map[string]any {
	pb, err := playbooks.Parse([]byte(rec.Document))
	if err != nil {
		out := make(map[string]any, len(rec.Inputs))
		for k := range rec.Inputs {
			out[k] = playbooks.Redacted
		}
		return out
	}
	out := pb.Redact(rec.Inputs)
	if out == nil {
		out = map[string]any{}
	}
	return out
}
