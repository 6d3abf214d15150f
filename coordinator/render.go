package coordinator

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// scope is what templates of the step numbered seq see: the inputs, node sets and metadata of
// the run, and the step before it as previous_task.
func (d *driver) scope(seq int) playbooks.Scope {
	s := playbooks.Scope{
		Inputs:    d.rec.Inputs,
		Nodes:     d.rec.Nodes,
		Metadata:  d.pb.Metadata(),
		StartedAt: d.rec.StartedAt,
		Previous:  &playbooks.PreviousTask{},
	}
	for i := len(d.rec.Steps) - 1; i >= 0; i-- {
		if st := d.rec.Steps[i]; st.Seq < seq && st.Done {
			s.Previous = &playbooks.PreviousTask{
				Ran: true, Success: st.Success, Description: st.Description, Msg: st.Msg, Data: st.Data,
				Runtime: st.EndedAt.Sub(st.StartedAt),
			}
			break
		}
	}
	return s
}

// render turns a task into the job of one attempt. Properties are rendered on every attempt, as
// Choria did, so a retry sees the latest previous_task.
func (d *driver) render(task playbooks.Task, id protocol.JobID, desc string, scope playbooks.Scope) (*protocol.Job, error) {
	job := &protocol.Job{Version: protocol.JobVersion, ID: id, Type: task.Type, Description: desc, Playbook: d.pb.Name}
	switch task.Type {
	case protocol.TaskShell:
		spec, err := renderShell(task.Properties, scope)
		if err != nil {
			return nil, err
		}
		job.Shell = spec
	default:
		return nil, fmt.Errorf("task type %q cannot run yet", task.Type)
	}
	return job, nil
}

// renderShell renders a shell task. The command is rendered with playbooks.RenderShell, which
// turns every template into a reference to an environment variable: templated values reach the
// shell as data, never as code.
func renderShell(props map[string]any, scope playbooks.Scope) (*protocol.ShellSpec, error) {
	rest := maps.Clone(props)
	command, _ := rest["command"].(string)
	delete(rest, "command")
	rendered, err := playbooks.Render(rest, scope)
	if err != nil {
		return nil, err
	}
	cmd, env, err := playbooks.RenderShell(command, scope)
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	m, _ := rendered.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	m["command"] = cmd
	spec, err := playbooks.DecodeShell(m)
	if err != nil {
		return nil, err
	}
	environment := maps.Clone(spec.Environment)
	if environment == nil {
		environment = map[string]string{}
	}
	maps.Copy(environment, env)
	if len(spec.Nodes) > 0 {
		// Choria appended "--nodes a,b"; the list goes through the environment like any value.
		spec.Command += ` --nodes "${FLEETBOOK_NODES}"`
		environment["FLEETBOOK_NODES"] = strings.Join(spec.Nodes, ",")
	}
	return &protocol.ShellSpec{
		Command: spec.Command, Cwd: spec.Cwd, Timeout: spec.Timeout, Environment: environment,
	}, nil
}

// stepEvent is an event about st.
func (d *driver) stepEvent(t protocol.EventType, st *protocol.StepRecord) protocol.Event {
	return protocol.Event{
		Type: t, Step: st.Seq, Attempt: st.Attempt, List: st.List, TaskType: st.Type,
		Description: st.Description, Time: time.Now().UTC(),
	}
}
