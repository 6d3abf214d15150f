package coordinator

import (
	"context"
	"fmt"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// listDiscover is the list of the steps that resolve node sets before the run's tasks. They are
// steps like any other (recorded, retried on takeover), but not tasks of the playbook, so the
// report shows what they found in its nodes and not among its tasks.
const listDiscover playbooks.ListName = "discover"

// prepare readies the run before its first task, in Choria's order: it settles the inputs bound
// to data stores, takes the playbook's locks (a lost one halts the run), and discovers every node
// set in declaration order. It returns what went wrong, if anything did; an error means the run cannot be driven
// now (lost, or shutting down).
func (d *driver) prepare(ctx context.Context, halt context.CancelCauseFunc) (string, error) {
	if len(d.pb.StoreInputs()) > 0 || len(d.pb.Locks) > 0 {
		// Data stores are written and locks taken by the owner only: the claim is stored first.
		if err := d.flush(ctx); err != nil {
			return "", err
		}
	}
	if failure, err := d.storeInputs(ctx); err != nil || failure != "" {
		return failure, err
	}
	if failure, err := d.takeLocks(ctx); err != nil || failure != "" {
		return failure, err
	}
	d.watchLeases(ctx, halt)
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
	if msg, err := playbooks.RenderString(ns.WhenEmpty, d.scope(st.Seq+1)); err == nil {
		ns.WhenEmpty = msg
	}
	nodes, err := ns.Apply(found)
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
	spec := &protocol.DiscoverSpec{Name: name, Type: ns.Type, Properties: rendered, Test: ns.Test, Limit: ns.Limit}
	for _, agent := range ns.Uses {
		if spec.Uses == nil {
			spec.Uses = map[string]string{}
		}
		spec.Uses[agent] = d.pb.Uses[agent]
	}
	return spec, nil
}
