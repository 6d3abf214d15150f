package coordinator

import (
	"fmt"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// runnableTaskTypes are the task types this fleetbook runs: on workers, or in the coordinator
// (log, playbook).
var runnableTaskTypes = map[string]bool{
	protocol.TaskShell: true, protocol.TaskRPC: true, playbooks.TypeRPCAssert: true, protocol.TaskWebhook: true,
	protocol.TaskSlack: true, protocol.TaskGraphiteEvent: true, protocol.TaskData: true, taskLog: true, taskPlaybook: true, protocol.TaskNoop: true,
}

// unsupported lists the parts of a valid playbook that this version cannot run yet, so that such a
// playbook is refused before anything runs instead of failing half-way.
func unsupported(pb *playbooks.Playbook) []protocol.Problem {
	var probs []protocol.Problem
	add := func(path string, line int, format string, args ...any) {
		probs = append(probs, protocol.Problem{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	for _, list := range allLists {
		for i, t := range pb.List(list) {
			if !runnableTaskTypes[t.Type] {
				add(fmt.Sprintf("%s[%d].%s", listPath(list), i, t.Type), t.Line, "task type %q cannot run yet", t.Type)
			}
		}
	}
	return probs
}

// allLists is every task list, in the order a run walks them.
var allLists = []playbooks.ListName{
	playbooks.ListPreBook, playbooks.ListTasks, playbooks.ListPreTask, playbooks.ListPostTask,
	playbooks.ListOnSuccess, playbooks.ListOnFail, playbooks.ListPostBook,
}

// listPath is where a list lives in the document: "tasks" at the top, the rest under "hooks".
func listPath(l playbooks.ListName) string {
	if l == playbooks.ListTasks {
		return "tasks"
	}
	return "hooks." + string(l)
}
