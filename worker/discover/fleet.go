package discover

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// fleetNodes selects registered nodes with the node set's filters (identities, classes, facts,
// agents, compound; all must hold), in identity order. It also returns the registry it read, for
// the uses check. discovery_method and federations are accepted for Choria playbooks and ignored:
// the registry is the only discovery.
func (d *discoverer) fleetNodes(ctx context.Context, props map[string]any) ([]string, map[string]*protocol.NodeInfo, error) {
	// The filters were checked when the playbook was submitted; this parses the rendered ones.
	filter, err := playbooks.ParseNodeFilter(props)
	if err != nil {
		return nil, nil, err
	}
	registry, err := d.registry(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, id := range slices.Sorted(maps.Keys(registry)) {
		if filter.Match(registeredNode{registry[id]}) {
			out = append(out, id)
		}
	}
	return out, registry, nil
}

// registeredNode is a registry record as the playbook's node filters see it.
type registeredNode struct{ info *protocol.NodeInfo }

func (n registeredNode) Identity() string      { return n.info.Identity }
func (n registeredNode) Classes() []string     { return n.info.Classes }
func (n registeredNode) Facts() map[string]any { return n.info.Facts }

// Agents lists the names of the node's agents; only agent filters ask.
func (n registeredNode) Agents() []string {
	names := make([]string, len(n.info.Agents))
	for i, a := range n.info.Agents {
		names[i] = a.Name
	}
	return names
}

// registry reads every live node of the registry, keyed by identity. A registry nobody has
// written to yet is empty: no node agent has started.
func (d *discoverer) registry(ctx context.Context) (map[string]*protocol.NodeInfo, error) {
	reg, err := kvstore.OpenNodes(ctx, d.js, kvstore.Config{})
	if err != nil {
		return nil, err
	}
	list, err := reg.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	nodes := make(map[string]*protocol.NodeInfo, len(list))
	for i := range list {
		nodes[list[i].Identity] = &list[i]
	}
	return nodes, nil
}

// checkUses verifies that every node runs every agent of uses at a version inside its range,
// and lists every failure in one error.
func checkUses(nodes []string, registry map[string]*protocol.NodeInfo, uses map[string]string) error {
	agents := slices.Sorted(maps.Keys(uses))
	ranges := map[string]playbooks.VersionRange{}
	for _, a := range agents {
		r, err := playbooks.ParseVersionRange(uses[a])
		if err != nil {
			return fmt.Errorf("uses %s: %w", a, err)
		}
		ranges[a] = r
	}
	var problems []string
	for _, id := range nodes {
		n, ok := registry[id]
		if !ok {
			problems = append(problems, fmt.Sprintf("node %s is not in the node registry, so its agents are unknown", id))
			continue
		}
		for _, a := range agents {
			i := slices.IndexFunc(n.Agents, func(ai protocol.AgentInfo) bool { return ai.Name == a })
			if i < 0 {
				problems = append(problems, fmt.Sprintf("node %s does not have agent %s (wanted %s)", id, a, uses[a]))
				continue
			}
			have := n.Agents[i].Version
			v, err := playbooks.ParseSemVersion(have)
			if err != nil {
				problems = append(problems, fmt.Sprintf("node %s has agent %s with unreadable version %q", id, a, have))
				continue
			}
			if !ranges[a].Allows(v) {
				problems = append(problems, fmt.Sprintf("node %s has agent %s version %s, outside %s", id, a, have, uses[a]))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("agent versions do not match uses: %s", listProblems(problems))
	}
	return nil
}

// listProblems joins problems for an error message, naming at most 20.
func listProblems(p []string) string {
	const most = 20
	if len(p) <= most {
		return strings.Join(p, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(p[:most], "; "), len(p)-most)
}
