package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// deregisterMax is the largest server that removes its registrations on a clean stop; a bigger
// simulated fleet lets them age out rather than send thousands of deletes at shutdown.
const deregisterMax = 16

// registry is where a server registers its nodes and publishes its agents' definitions.
type registry struct {
	nodes  *kvstore.Nodes
	agents *kvstore.Agents
}

func (s *Server) openRegistry(ctx context.Context) (*registry, error) {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return nil, fmt.Errorf("%w: node registry: %w", ErrStartup, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := kvstore.OpenNodes(cctx, js, s.opts.store)
	if err != nil {
		return nil, fmt.Errorf("%w: node registry: %w", ErrStartup, err)
	}
	agents, err := kvstore.OpenAgents(cctx, js, s.opts.store)
	if err != nil {
		return nil, fmt.Errorf("%w: agent definitions: %w", ErrStartup, err)
	}
	return &registry{nodes: nodes, agents: agents}, nil
}

// publishDefinitions puts the definition of every agent this server runs in the agents bucket,
// so coordinators can check rpc properties against it. It is one put per agent, however many
// nodes the server simulates.
func (s *Server) publishDefinitions(ctx context.Context, agents *kvstore.Agents) error {
	for _, a := range s.agentList {
		data, err := json.Marshal(s.defs[a.Name].AgentDefinition)
		if err != nil {
			return fmt.Errorf("encode definition of %s: %w", a.Name, err)
		}
		if err := agents.Publish(ctx, a.Name, a.Version, data); err != nil {
			return err
		}
	}
	return nil
}

// infos are the registrations of every node; Agents is shared, since every node runs the same.
func (s *Server) infos() []protocol.NodeInfo {
	out := make([]protocol.NodeInfo, len(s.order))
	for i, n := range s.order {
		out[i] = protocol.NodeInfo{
			Version: protocol.NodeInfoVersion, Identity: n.Identity,
			Facts: n.Facts, Classes: n.Classes, Agents: s.agentList,
		}
	}
	return out
}

// refreshLoop registers every node at once, then refreshes them all in one pipelined burst per
// interval. The interval is jittered by up to a tenth so many fleet processes started together
// do not refresh in step.
func (s *Server) refreshLoop(ctx context.Context, reg *registry) {
	interval := s.opts.refresh
	if ttl, err := reg.nodes.TTL(ctx); err == nil && ttl > 0 && ttl/3 < interval {
		interval = ttl / 3
	}
	infos := s.infos()
	register := func() {
		cctx, cancel := context.WithTimeout(ctx, interval)
		defer cancel()
		// Definitions first: a coordinator that discovers a node can then find its agents'.
		if err := s.publishDefinitions(cctx, reg.agents); err != nil {
			s.log.Warn("publishing agent definitions failed", "error", err)
		}
		if err := reg.nodes.RegisterAll(cctx, infos, s.opts.registerBurst); err != nil {
			s.log.Warn("refreshing node registrations failed", "nodes", len(infos), "error", err)
		}
	}
	register()
	close(s.ready)
	for {
		jitter := time.Duration(rand.Int64N(int64(interval/10) + 1))
		t := time.NewTimer(interval - jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			s.deregister(ctx, reg.nodes)
			return
		case <-t.C:
			register()
		}
	}
}

// deregister removes the nodes' registrations once ctx, the server's, has ended: it runs on
// after that end, for a bounded time.
func (s *Server) deregister(ctx context.Context, reg *kvstore.Nodes) {
	if len(s.order) > deregisterMax {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for _, n := range s.order {
		if err := reg.Deregister(ctx, n.Identity); err != nil {
			s.log.Warn("deregistering failed; the registration will age out", "identity", n.Identity, "error", err)
		}
	}
}
