package coordinator

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// checkRPC checks a rendered rpc job's properties against the definitions of its agent that node
// agents published, before anything is sent. It returns the refusal, naming the action and the
// property, or "" when the properties are accepted.
//
// A fleet may run several versions of an agent: the properties pass when one published version
// accepts them (the nodes still check their own). When nothing is published for the agent, or
// the bucket cannot be read, the job goes out and the nodes judge: a node agent of an older
// release, or a fleet being upgraded, must not block runs.
func (d *driver) checkRPC(ctx context.Context, spec *protocol.RPCSpec) string {
	defs := d.agentDefinitions(ctx, spec.Agent)
	if len(defs) == 0 {
		return ""
	}
	props, ok := d.revealForCheck(ctx, spec.Properties)
	if !ok {
		return "" // the run's secrets cannot be read now: the nodes judge
	}
	// Versions often refuse for the same reason: say it once, naming the versions.
	var problems []string
	versions := map[string][]string{}
	for _, def := range defs {
		var problem string
		if act, ok := def.Actions[spec.Action]; !ok {
			problem = fmt.Sprintf("no action %s (actions: %s)", spec.Action, strings.Join(def.ActionNames(), ", "))
		} else if _, err := act.Arguments(props); err != nil {
			problem = err.Error()
		} else {
			return ""
		}
		if _, seen := versions[problem]; !seen {
			problems = append(problems, problem)
		}
		versions[problem] = append(versions[problem], def.Version)
	}
	for i, p := range problems {
		problems[i] = fmt.Sprintf("%s (%s %s)", p, spec.Agent, strings.Join(versions[p], ", "))
	}
	return d.scrub(ctx, fmt.Sprintf("properties of %s#%s do not match the agent's definition, nothing was sent: %s",
		spec.Agent, spec.Action, strings.Join(problems, "; ")))
}

// agentDefinitions returns the published definitions of agent, newest version first, reading
// the bucket once per agent per run.
func (d *driver) agentDefinitions(ctx context.Context, agent string) []*playbooks.AgentDefinition {
	if defs, ok := d.agentDefs[agent]; ok {
		return defs
	}
	if d.agentDefs == nil {
		d.agentDefs = map[string][]*playbooks.AgentDefinition{}
	}
	var defs []*playbooks.AgentDefinition
	raw, err := d.c.agents.Versions(ctx, agent)
	if err != nil {
		d.log.Warn("reading agent definitions; the nodes will check the properties", "agent", agent, "error", err)
		return nil // not cached: the next step tries again
	}
	for key, data := range raw {
		def, err := playbooks.DecodeAgentDefinition(data)
		if err != nil || def.Name != agent {
			d.log.Warn("ignoring an unusable agent definition", "key", key, "error", err)
			continue
		}
		defs = append(defs, def)
	}
	sort.Slice(defs, func(i, j int) bool { return newer(defs[i].Version, defs[j].Version) })
	d.agentDefs[agent] = defs
	return defs
}

// newer orders versions newest first; a version that does not parse goes last.
func newer(a, b string) bool {
	va, errA := playbooks.ParseSemVersion(a)
	vb, errB := playbooks.ParseSemVersion(b)
	if errA != nil || errB != nil {
		if (errA == nil) != (errB == nil) {
			return errA == nil
		}
		return a > b
	}
	return va.Compare(vb) > 0
}
