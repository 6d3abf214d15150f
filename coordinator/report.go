package coordinator

import (
	"fmt"
	"strings"

	"github.com/fleetbook/fleetbook/protocol"
)

// ReportOf builds the report of a run from its record, with sensitive inputs redacted.
func ReportOf(rec *protocol.RunRecord) *protocol.Report {
	r := &protocol.Report{
		ID: rec.ID, Playbook: rec.Playbook, Status: rec.Status, Error: protocol.RedactSecretRefs(rec.Error),
		SubmittedBy: rec.SubmittedBy, CancelledBy: rec.CancelledBy,
		Schedule: rec.Schedule, ScheduledFor: rec.ScheduledFor, Parent: rec.Parent,
		Inputs: redactedInputs(rec), StartedAt: rec.StartedAt, EndedAt: rec.EndedAt,
		Tasks: []protocol.TaskReport{},
	}
	r.Nodes, r.NodeCounts = reportNodeSets(rec.Nodes)
	for _, st := range rec.Steps {
		if st.List == string(listDiscover) {
			continue // not a task of the playbook
		}
		n := len(r.Tasks) + 1
		// The run's error names the failed task by its key: say its number too, as the report does.
		if strings.HasPrefix(r.Error, st.Key+" ") || strings.HasPrefix(r.Error, st.Key+":") {
			r.Error = fmt.Sprintf("task %d, %s", n, r.Error)
		}
		r.Tasks = append(r.Tasks, protocol.TaskReport{
			Number: n, Key: st.Key, State: stepState(&st),
			List: st.List, Type: st.Type, Description: protocol.RedactSecretRefs(st.Description), Success: st.Success,
			Msg:   protocol.RedactSecretRefs(st.Msg),
			Tries: st.Attempt, Data: st.Data, Nodes: st.Nodes, NodesOK: st.NodesOK, NodesFailed: st.NodesFailed, Child: st.Child, StartedAt: st.StartedAt, EndedAt: st.EndedAt,
		})
	}
	return r
}

// reportNodeSets is the report's view of a run's node sets: each cut to its first
// protocol.ReportNodeSetLimit identities, and each set's whole size.
func reportNodeSets(sets map[string][]string) (map[string][]string, map[string]int) {
	nodes, counts := make(map[string][]string, len(sets)), make(map[string]int, len(sets))
	for name, ids := range sets {
		counts[name] = len(ids)
		if len(ids) > protocol.ReportNodeSetLimit {
			ids = ids[:protocol.ReportNodeSetLimit:protocol.ReportNodeSetLimit]
		}
		nodes[name] = ids
	}
	return nodes, counts
}

// stepState is the state of step st.
func stepState(st *protocol.StepRecord) protocol.StepState {
	switch {
	case st.Done && st.Success:
		return protocol.StepSuccess
	case st.Done && haltedMsg(st.Msg):
		return protocol.StepCancelled
	case st.Done:
		return protocol.StepFailed
	case !st.RetryAt.IsZero():
		return protocol.StepRetrying
	case st.Attempt == 0:
		return protocol.StepPending
	default:
		return protocol.StepRunning
	}
}

// haltedMsg reports whether msg is the message of a step stopped by a halt (stopInFlight).
func haltedMsg(msg string) bool {
	return strings.HasPrefix(msg, "cancelled: ") || strings.HasPrefix(msg, "timed out: ")
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
