package coordinator

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// listDiscover is the list of the steps that resolve node sets before the run's tasks. They are
// steps like any other (recorded, retried on takeover), but not tasks of the playbook, so the
// report shows what they found in its nodes and not among its tasks.
const listDiscover playbooks.ListName = "discover"

// prepare readies the run before its first task: it discovers every node set in declaration
// order. It returns what went wrong, if anything did; an error means the run cannot be driven
// now (lost, or shutting down).
func (d *driver) prepare(ctx context.Context) (string, error) {
	for _, ns := range d.pb.Nodes {
		if _, done := d.rec.Nodes[ns.Name]; done {
			continue
		}
		failure, err := d.discover(ctx, ns)
		if err != nil || failure != "" {
			return failure, err
		}
	}
	return "", nil
}

// discover resolves one node set on a worker and records its nodes.
func (d *driver) discover(ctx context.Context, ns playbooks.NodeSet) (string, error) {
	task := playbooks.Task{
		Type: protocol.TaskDiscover, Description: "discover node set " + ns.Name, Tries: 1,
		Properties: map[string]any{"name": ns.Name},
	}
	st, err := d.step(ctx, "nodes."+ns.Name, listDiscover, task)
	if err != nil {
		return "", err
	}
	if !st.Success {
		return fmt.Sprintf("discovering node set %s failed: %s", ns.Name, st.Msg), nil
	}
	found, err := stringList(st.Data)
	if err != nil {
		return fmt.Sprintf("discovering node set %s: the worker answered %v", ns.Name, err), nil
	}
	whenEmpty, err := playbooks.RenderString(ns.WhenEmpty, d.scope(st.Seq+1))
	if err != nil {
		whenEmpty = ns.WhenEmpty
	}
	nodes, err := settleNodes(ns, found, whenEmpty)
	if err != nil {
		return err.Error(), nil
	}
	return "", d.update(ctx, func(rec *protocol.RunRecord) {
		if rec.Nodes == nil {
			rec.Nodes = map[string][]string{}
		}
		rec.Nodes[ns.Name] = nodes
		// The nodes are kept once, in the run's node sets.
		stepIn(rec, "nodes."+ns.Name).Data = map[string]any{"count": len(nodes)}
	})
}

// discoverSpec is the discover job of the node set a discover task names, rendered.
func (d *driver) discoverSpec(props map[string]any, scope playbooks.Scope) (*protocol.DiscoverSpec, error) {
	name, _ := props["name"].(string)
	ns, ok := d.pb.NodeSet(name)
	if !ok {
		return nil, fmt.Errorf("no node set %q is declared", name)
	}
	rendered, err := renderProps(ns.Properties, scope)
	if err != nil {
		return nil, fmt.Errorf("node set %s: %w", name, err)
	}
	spec := &protocol.DiscoverSpec{Name: name, Type: ns.Type, Properties: rendered, Test: ns.Test}
	for _, agent := range ns.Uses {
		if spec.Uses == nil {
			spec.Uses = map[string]string{}
		}
		spec.Uses[agent] = d.pb.Uses[agent]
	}
	return spec, nil
}

// settleNodes applies a node set's rules to what discovery found: duplicates dropped (first
// kept), limit, at_least and empty_ok.
func settleNodes(ns playbooks.NodeSet, found []string, whenEmpty string) ([]string, error) {
	var nodes []string
	for _, n := range found {
		if !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	if ns.Limit > 0 && len(nodes) > ns.Limit {
		nodes = nodes[:ns.Limit]
	}
	if len(nodes) == 0 && ns.EmptyOK {
		return []string{}, nil
	}
	if len(nodes) == 0 {
		if whenEmpty != "" {
			return nil, fmt.Errorf("node set %s: %s", ns.Name, whenEmpty)
		}
		return nil, fmt.Errorf("node set %s: no nodes were discovered", ns.Name)
	}
	if len(nodes) < ns.AtLeast {
		return nil, fmt.Errorf("node set %s: %d nodes discovered, at least %d needed", ns.Name, len(nodes), ns.AtLeast)
	}
	return nodes, nil
}
