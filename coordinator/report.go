package coordinator

import (
	"github.com/fleetbook/fleetbook/protocol"
)

// ReportOf builds the report of a run from its record, with sensitive inputs redacted.
func ReportOf(rec *protocol.RunRecord) *protocol.Report {
	r := &protocol.Report{
		ID: rec.ID, Playbook: rec.Playbook, Status: rec.Status, Error: protocol.RedactSecretRefs(rec.Error),
		SubmittedBy: rec.SubmittedBy, CancelledBy: rec.CancelledBy,
		Schedule: rec.Schedule, ScheduledFor: rec.ScheduledFor,
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
			List: st.List, Type: st.Type, Description: protocol.RedactSecretRefs(st.Description), Success: st.Success,
			Msg:   protocol.RedactSecretRefs(st.Msg),
			Tries: st.Attempt, Data: st.Data, Nodes: st.Nodes, Child: st.Child, StartedAt: st.StartedAt, EndedAt: st.EndedAt,
		})
	}
	return r
}

// redactedInputs shows the inputs with every secret reference redacted: sensitive values are
// never in the record, only references to them.
func redactedInputs(rec *protocol.RunRecord) map[string]any {
	out := make(map[string]any, len(rec.Inputs))
	for k, v := range rec.Inputs {
		if s, ok := v.(string); ok {
			v = protocol.RedactSecretRefs(s)
		}
		out[k] = v
	}
	return out
}
