package playbooks

import "fmt"

// Apply turns the identities a discovery source found into the node set's members, in Choria's
// order: de-duplicate (keeping the first occurrence), refuse an empty result unless empty_ok,
// keep the first Limit nodes, then check at_least. It does no I/O.
//
// ns.WhenEmpty is used as is: a caller whose when_empty holds templates renders it first
// (ns.WhenEmpty, err = RenderString(ns.WhenEmpty, scope)) and calls Apply on that copy.
func (ns NodeSet) Apply(found []string) ([]string, error) {
	nodes := UniqueNodes(found)
	if len(nodes) == 0 {
		if ns.EmptyOK {
			return []string{}, nil
		}
		if ns.WhenEmpty != "" {
			return nil, fmt.Errorf("%w: node set %s: %s", ErrNodeSetEmpty, ns.Name, ns.WhenEmpty)
		}
		return nil, fmt.Errorf("%w: did not discover any nodes for node set %s", ErrNodeSetEmpty, ns.Name)
	}
	if ns.Limit > 0 && len(nodes) > ns.Limit {
		nodes = nodes[:ns.Limit]
	}
	if need := ns.minimum(); len(nodes) < need {
		return nil, fmt.Errorf("%w: node set %s needs at least %d nodes, got %d", ErrNodeSetTooSmall, ns.Name, need, len(nodes))
	}
	return nodes, nil
}

// minimum is the effective at_least: empty_ok forces 0 whatever was decoded.
func (ns NodeSet) minimum() int {
	if ns.EmptyOK {
		return 0
	}
	return ns.AtLeast
}

// UniqueNodes drops repeated and empty identities, keeping the order of first appearance. It
// returns a new slice, never nil.
func UniqueNodes(found []string) []string {
	seen := make(map[string]bool, len(found))
	out := make([]string, 0, len(found))
	for _, n := range found {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}
