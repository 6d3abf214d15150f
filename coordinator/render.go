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
// the run, and the step before it as previous_task. Before the first task finished there is no
// previous task (Previous stays nil), so previous_task.msg and .description read Choria's "No
// previous task were found"; discovery steps are not tasks and never count.
func (d *driver) scope(seq int) playbooks.Scope {
	s := playbooks.Scope{
		Inputs:    d.rec.Inputs,
		Nodes:     d.rec.Nodes,
		Metadata:  d.pb.Metadata(),
		StartedAt: d.rec.StartedAt,
	}
	for i := len(d.rec.Steps) - 1; i >= 0; i-- {
		if st := d.rec.Steps[i]; st.Seq < seq && st.Done && st.List != string(listDiscover) {
			s.Previous = previousTask(st)
			break
		}
	}
	for _, st := range d.rec.Steps {
		if st.Register != "" && st.Seq < seq && st.Done {
			if s.Registered == nil {
				s.Registered = map[string]playbooks.PreviousTask{}
			}
			s.Registered[st.Register] = *previousTask(st)
		}
	}
	if len(d.dynamic) > 0 {
		inputs := make(map[string]any, len(s.Inputs)+len(d.dynamic))
		maps.Copy(inputs, s.Inputs)
		maps.Copy(inputs, d.dynamic)
		s.Inputs = inputs
	}
	return s
}

// previousTask is what templates read of a finished step.
func previousTask(st protocol.StepRecord) *playbooks.PreviousTask {
	return &playbooks.PreviousTask{
		Ran: true, Success: st.Success, Description: st.Description, Msg: st.Msg, Data: st.Data,
		Runtime: st.EndedAt.Sub(st.StartedAt), Type: st.Type,
	}
}

// render turns a task into the job of one attempt. Properties are rendered on every attempt, as
// Choria did, so a retry sees the latest previous_task.
func (d *driver) render(task playbooks.Task, id protocol.JobID, desc string, scope playbooks.Scope) (*protocol.Job, error) {
	job := &protocol.Job{Version: protocol.JobVersion, ID: id, Type: task.Type, Description: desc, Playbook: d.pb.Name,
		Timeout: task.Timeout, Sensitive: d.hasSecrets()}
	switch task.Type {
	case protocol.TaskShell:
		spec, err := renderShell(task.Properties, scope)
		if err != nil {
			return nil, err
		}
		if spec.Timeout == 0 {
			spec.Timeout = task.Timeout
		}
		job.Shell = spec
		return job, nil
	}
	props, err := renderProps(task.Properties, scope)
	if err != nil {
		return nil, err
	}
	switch task.Type {
	case protocol.TaskRPC, playbooks.TypeRPCAssert:
		job.Type = protocol.TaskRPC
		job.RPC, job.Targets, err = rpcSpec(task.Type, props)
	case protocol.TaskData:
		job.Store, job.Data, err = d.dataSpec(props, scope)
	case protocol.TaskDiscover:
		job.Discover, err = d.discoverSpec(task.Properties, scope)
		if err == nil && job.Discover.Type == playbooks.NodesData {
			err = d.dataNodeStore(job.Discover, scope)
		}
	default:
		job.Properties = props
	}
	if err != nil {
		return nil, err
	}
	return job, nil
}

// renderProps renders every templated value of a task's properties.
func renderProps(props map[string]any, scope playbooks.Scope) (map[string]any, error) {
	rendered, err := playbooks.Render(props, scope)
	if err != nil {
		return nil, err
	}
	m, _ := rendered.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// rpcSpec builds the rpc job of a rendered rpc (or rpc_assert) task and its targets.
func rpcSpec(taskType string, props map[string]any) (*protocol.RPCSpec, []string, error) {
	action, _ := props["action"].(string)
	agent, act, ok := strings.Cut(action, ".")
	if !ok {
		return nil, nil, fmt.Errorf("action: must be \"agent.action\", got %q", action)
	}
	targets, err := stringList(props["nodes"])
	if err != nil {
		return nil, nil, fmt.Errorf("nodes: %w", err)
	}
	if len(targets) == 0 {
		return nil, nil, fmt.Errorf("nodes: the task has no nodes to act on")
	}
	spec := &protocol.RPCSpec{Agent: agent, Action: act}
	spec.Properties, _ = props["properties"].(map[string]any)
	if f, ok := floatProp(props["timeout"]); ok && f > 0 {
		spec.Timeout = time.Duration(f * float64(time.Second))
	}
	spec.Assert, _ = props["assert"].(string)
	if taskType == playbooks.TypeRPCAssert {
		// Choria's rpc_assert: expression [key, operator, value] on each reply's data.
		if e, ok := props["expression"].([]any); ok && len(e) == 3 {
			spec.Assert = playbooks.AssertionText(e[0], e[1], e[2])
		}
	}
	return spec, targets, nil
}

// dataSpec builds the store and operation of a rendered data task. The key is "store/key".
func (d *driver) dataSpec(props map[string]any, scope playbooks.Scope) (*protocol.StoreSpec, *protocol.DataOp, error) {
	path, _ := props["key"].(string)
	name, key, ok := strings.Cut(path, "/")
	if !ok || key == "" {
		return nil, nil, fmt.Errorf("key: must be \"store/key\", got %q", path)
	}
	store, err := d.storeSpec(name, scope)
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	action, _ := props["action"].(string)
	return store, &protocol.DataOp{Action: action, Key: key, Value: props["value"]}, nil
}

// dataNodeStore replaces a data node set's store property (a store's name) by the store's
// rendered declaration, the fields of protocol.StoreSpec, which the worker opens as a data task
// opens its Store.
func (d *driver) dataNodeStore(spec *protocol.DiscoverSpec, scope playbooks.Scope) error {
	name, _ := spec.Properties["store"].(string)
	store, err := d.storeSpec(name, scope)
	if err != nil {
		return fmt.Errorf("node set %s: store: %w", spec.Name, err)
	}
	spec.Properties["store"] = map[string]any{"name": store.Name, "type": store.Type, "properties": store.Properties}
	return nil
}

// storeSpec renders the declaration of data store name.
func (d *driver) storeSpec(name string, scope playbooks.Scope) (*protocol.StoreSpec, error) {
	ds, ok := d.pb.DataStores[name]
	if !ok {
		return nil, fmt.Errorf("no data store %q is declared", name)
	}
	props, err := renderProps(ds.Properties, scope)
	if err != nil {
		return nil, fmt.Errorf("data store %s: %w", name, err)
	}
	return &protocol.StoreSpec{Name: name, Type: ds.Type, Properties: props}, nil
}

// stringList reads a rendered list of names: a list, or one comma-separated string.
func stringList(v any) ([]string, error) {
	switch l := v.(type) {
	case []string:
		return l, nil
	case []any:
		out := make([]string, 0, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("item %d must be a non-empty string, got %v", i, e)
			}
			out = append(out, s)
		}
		return out, nil
	case string:
		var out []string
		for _, s := range strings.Split(l, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("must be a list of names, got %T", v)
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
