package coordinator

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// Node listings.
const (
	// defaultNodesLimit is how many nodes a listing returns when the request names no limit.
	defaultNodesLimit = 100
	// maxNodesLimit bounds one listing's reply.
	maxNodesLimit = 1000
	// maxNodesSearch bounds the search text: no identity is longer.
	maxNodesSearch = 255
)

// handleListNodes answers a page of the node registry, the most recently seen nodes first (by
// identity when seen at the same time), keeping those whose identity contains req.Search. It
// needs read: the registry is about no playbook, so read on any playbook will do.
func (c *Coordinator) handleListNodes(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ListNodesRequest
	if len(r.data) > 0 {
		if apiErr := decodeRequest(r.data, &req); apiErr != nil {
			return nil, apiErr
		}
	}
	switch {
	case req.Limit < 0 || req.Limit > maxNodesLimit:
		return nil, apiError(protocol.CodeBadRequest, "limit: give 1 to %d (0: %d), got %d", maxNodesLimit, defaultNodesLimit, req.Limit)
	case req.Offset < 0:
		return nil, apiError(protocol.CodeBadRequest, "offset: must not be negative, got %d", req.Offset)
	case len(req.Search) > maxNodesSearch:
		return nil, apiError(protocol.CodeBadRequest, "search: %d bytes, more than the %d of the longest identity", len(req.Search), maxNodesSearch)
	}
	if _, apiErr := c.permit(ctx, r.who, policy.Read, nil, ""); apiErr != nil {
		return nil, apiErr
	}
	// The registry's bucket is bound per listing: the console asks for a page now and then, and
	// an agent may have made the bucket after this coordinator started.
	reg, err := kvstore.OpenNodes(ctx, c.js, c.opts.store)
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "open the node registry: %v", err)
	}
	nodes, err := reg.ListNodes(ctx)
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "%v", err)
	}
	if req.Search != "" {
		nodes = slices.DeleteFunc(nodes, func(n protocol.NodeInfo) bool { return !strings.Contains(n.Identity, req.Search) })
	}
	// ListNodes sorts by identity, and the sort is stable: equal times stay in identity order.
	slices.SortStableFunc(nodes, func(a, b protocol.NodeInfo) int { return b.Seen.Compare(a.Seen) })
	limit := req.Limit
	if limit == 0 {
		limit = defaultNodesLimit
	}
	resp := protocol.ListNodesResponse{Version: protocol.SubmitVersion, Nodes: []protocol.NodeSummary{}, Total: len(nodes)}
	page := nodes[min(req.Offset, len(nodes)):]
	if len(page) > limit {
		page, resp.NextOffset = page[:limit], req.Offset+limit
	}
	for _, n := range page {
		resp.Nodes = append(resp.Nodes, nodeSummary(n))
	}
	return resp, nil
}

// nodeSummary is n as a listing shows it.
func nodeSummary(n protocol.NodeInfo) protocol.NodeSummary {
	agents := n.Agents
	if agents == nil {
		agents = []protocol.AgentInfo{}
	}
	return protocol.NodeSummary{
		Identity: n.Identity, Agents: agents, Facts: len(n.Facts), FactNames: slices.Sorted(maps.Keys(n.Facts)),
		Classes: n.Classes, Seen: n.Seen, Registered: n.Registered,
	}
}
