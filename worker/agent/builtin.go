package agent

import (
	"time"

	"github.com/fleetbook/fleetbook/playbooks"
)

// builtinFunc implements the actions of a built-in agent. It must be quick: it runs on the
// dispatching goroutine.
type builtinFunc func(s *Server, n *node, action string, args map[string]any) outcome

// outcome is what an action produced, before it becomes an RPCReply.
type outcome struct {
	success bool
	msg     string
	data    any
}

// builtinRPCUtil is the rpcutil agent every node runs: liveness and self-description.
var builtinRPCUtil = &Definition{AgentDefinition: &playbooks.AgentDefinition{
	Name:        "rpcutil",
	Version:     "1.0.0",
	Description: "Node liveness and inventory (built in)",
	Actions: map[string]*Action{
		"ping": {
			Description: "Answer with the node's time",
			Outputs:     map[string]*Input{"pong": {Type: TypeInteger, Description: "Unix time on the node"}},
		},
		"inventory": {
			Description: "The node's agents, facts and classes",
			Outputs: map[string]*Input{
				"agents":  {Type: TypeList, Description: "agent names"},
				"facts":   {Type: TypeHash},
				"classes": {Type: TypeList},
			},
		},
		"agent_inventory": {
			Description: "The node's agents with their versions",
			Outputs:     map[string]*Input{"agents": {Type: TypeList, Description: "[{agent, version, description}]"}},
		},
	},
}, builtin: rpcutil}

func rpcutil(s *Server, n *node, action string, _ map[string]any) outcome {
	switch action {
	case "ping":
		return outcome{success: true, msg: "pong", data: map[string]any{"pong": time.Now().Unix()}}
	case "inventory":
		names := make([]string, 0, len(s.agentList))
		for _, a := range s.agentList {
			names = append(names, a.Name)
		}
		return outcome{success: true, data: map[string]any{"agents": names, "facts": n.Facts, "classes": n.Classes}}
	case "agent_inventory":
		list := make([]map[string]string, 0, len(s.agentList))
		for _, a := range s.agentList {
			list = append(list, map[string]string{"agent": a.Name, "version": a.Version, "description": s.defs[a.Name].Description})
		}
		return outcome{success: true, data: map[string]any{"agents": list}}
	}
	return outcome{msg: "rpcutil has no action " + action}
}
