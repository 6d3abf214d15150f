package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/trust"
)

// Server answers RPC requests for one or many nodes on one NATS connection and keeps them
// registered. Create it with New and start it with Run, once.
type Server struct {
	nc        *nats.Conn
	opts      options
	log       *slog.Logger
	defs      map[string]*Definition
	agentList []protocol.AgentInfo
	nodes     map[string]*node
	order     []*node
	seen      *dedupe
	verifier  *trust.Verifier
	sem       chan struct{}
	ready     chan struct{}
	running   atomic.Bool
}

// New returns a Server for nodes. It loads the agent definitions and refuses bad identities,
// duplicate identities and bad options, before anything touches NATS.
func New(nc *nats.Conn, nodes []Node, opts ...Option) (*Server, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalidOption)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: no nodes to serve", ErrInvalidOption)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	// Executables run in their node's state directory and get its path: a relative root would
	// then name a directory inside itself.
	root, err := filepath.Abs(o.stateRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: state directory: %w", ErrInvalidOption, err)
	}
	o.stateRoot = root
	defs := o.defs
	if defs == nil {
		if defs, err = LoadDefinitions(o.agentsDir); err != nil {
			return nil, err
		}
	}
	if _, ok := defs[builtinRPCUtil.Name]; !ok {
		defs[builtinRPCUtil.Name] = builtinRPCUtil
	}
	s := &Server{
		nc:    nc,
		opts:  o,
		log:   o.log,
		defs:  defs,
		nodes: make(map[string]*node, len(nodes)),
		sem:   make(chan struct{}, o.concurrency),
		ready: make(chan struct{}),
	}
	for _, d := range defs {
		s.agentList = append(s.agentList, protocol.AgentInfo{Name: d.Name, Version: d.Version})
	}
	sort.Slice(s.agentList, func(i, j int) bool { return s.agentList[i].Name < s.agentList[j].Name })
	for _, n := range nodes {
		if err := checkNode(n); err != nil {
			return nil, err
		}
		if _, dup := s.nodes[n.Identity]; dup {
			return nil, fmt.Errorf("%w: identity %q is listed twice", ErrFleet, n.Identity)
		}
		nn := &node{Node: n}
		s.nodes[n.Identity] = nn
		s.order = append(s.order, nn)
	}
	size := o.dedupeSize
	if size == 0 {
		size = max(1024, 4*len(nodes))
	}
	s.seen = newDedupe(size, max(minPinned, pinnedPerNode*len(nodes)), o.dedupeTTL)
	if len(o.trusted) > 0 {
		if s.verifier, err = trust.NewVerifier(o.trusted...); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	return s, nil
}

// The memory of signed request ids (see WithDedupe): with grants that live a quarter of an hour,
// 16 per node holds a node's requests at more than one a minute.
const (
	minPinned     = 16384
	pinnedPerNode = 16
)

// Agents lists the agents every node of this server runs, with their versions.
func (s *Server) Agents() []protocol.AgentInfo { return s.agentList }

// Ready is closed once Run subscribed and (unless WithoutRegistration) registered every node.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run serves requests until ctx is cancelled, then stops taking requests, lets the actions in
// progress finish and returns nil. It returns an error only when it cannot start.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	var inflight sync.WaitGroup
	// Actions outlive ctx: one that was started is finished and answered.
	actCtx := context.WithoutCancel(ctx)
	handler := func(m *nats.Msg) { s.handle(actCtx, &inflight, m) }

	subject := protocol.NodeRPCSubjectWildcard
	if len(s.order) == 1 {
		subject = protocol.NodeRPCSubject(s.order[0].Identity)
	}
	sub, err := s.nc.Subscribe(subject, handler)
	if err != nil {
		return fmt.Errorf("%w: subscribe %s: %w", ErrStartup, subject, err)
	}
	// A burst of 10,000 requests must queue, not be dropped as a slow consumer.
	_ = sub.SetPendingLimits(-1, 256<<20)
	if err := s.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("%w: subscribe %s: %w", ErrStartup, subject, err)
	}

	var bg sync.WaitGroup
	if s.opts.register {
		reg, err := s.openRegistry(ctx)
		if err != nil {
			_ = sub.Unsubscribe()
			return err
		}
		bg.Go(func() { s.refreshLoop(ctx, reg) })
	} else {
		close(s.ready)
	}
	s.log.Info("agent serving", "nodes", len(s.order), "subject", subject, "agents", len(s.agentList))

	<-ctx.Done()
	_ = sub.Unsubscribe()
	bg.Wait()
	inflight.Wait()
	s.log.Info("agent stopped")
	return nil
}

// handle answers one request. Built-in actions run here, on the subscription's goroutine, since
// they are quick; executables run on their own goroutines, at most the concurrency at once.
func (s *Server) handle(ctx context.Context, inflight *sync.WaitGroup, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	identity, ok := protocol.NodeFromRPCSubject(m.Subject)
	n := s.nodes[identity]
	if !ok || n == nil {
		// Another process may serve this identity: stay silent.
		return
	}
	req, err := s.decode(m.Data)
	if err != nil {
		if s.verifier != nil {
			s.refuse(m, n, &req, err)
			return
		}
		s.respond(m, n, &req, outcome{msg: "request is not valid JSON: " + err.Error()})
		return
	}
	// Verified before anything else: an unauthorised request learns nothing of this node's
	// agents and runs nothing.
	var pinUntil time.Time
	if s.verifier != nil {
		if err := s.verifier.Verify(&req, identity, time.Now()); err != nil {
			s.refuse(m, n, &req, err)
			return
		}
		pinUntil = trust.RememberUntil(req.Grant)
	}
	def, args, refusal := s.check(&req)
	if refusal != "" {
		s.respond(m, n, &req, outcome{msg: refusal})
		return
	}

	var entry *dedupeEntry
	if req.RequestID != "" {
		e, first := s.seen.begin(identity+"\x00"+req.RequestID, time.Now(), pinUntil)
		switch {
		case e == nil:
			s.refuse(m, n, &req, ErrReplayMemoryFull)
			return
		case !first:
			if s.verifier != nil {
				// A redelivered job repeats its requests legitimately; so does an impostor
				// replaying a captured one. Neither acts again: both get the first reply.
				s.log.Warn("request repeated: answering with the first reply, not acting again",
					"identity", identity, "request_id", req.RequestID, "signer", req.Grant.Signer, "caller", req.Caller)
			}
			s.replayWhenDone(inflight, m, e)
			return
		}
		entry = e
	}

	if def.builtin != nil {
		s.finish(m, n, &req, entry, def.builtin(s, n, req.Action, args))
		return
	}
	inflight.Go(func() {
		s.sem <- struct{}{}
		defer func() { <-s.sem }()
		s.finish(m, n, &req, entry, s.runExecutable(ctx, def, n, &req, args))
	})
}

// refuse answers a request that must not run with the reason, and logs it with what identifies
// the request and its signer.
func (s *Server) refuse(m *nats.Msg, n *node, req *protocol.RPCRequest, reason error) {
	signer := ""
	if req.Grant != nil {
		signer = req.Grant.Signer
	}
	s.log.Warn("refused request", "identity", n.Identity, "reason", reason.Error(), "request_id", req.RequestID,
		"signer", signer, "agent", req.Agent, "action", req.Action, "caller", req.Caller)
	s.respond(m, n, req, outcome{msg: "refused: " + reason.Error()})
}

// wireRequest is an RPCRequest whose grant is left encoded, for the verifier's DecodeGrant.
type wireRequest struct {
	protocol.RPCRequest
	Grant json.RawMessage `json:"grant,omitempty"`
}

// decode parses a request. With a verifier, the grant (the same bytes in every request of a job,
// and most of each request's size) is parsed through its cache: an agent serving 10,000 nodes
// parses it once per job, not once per node.
func (s *Server) decode(data []byte) (protocol.RPCRequest, error) {
	if s.verifier == nil {
		var req protocol.RPCRequest
		err := json.Unmarshal(data, &req)
		return req, err
	}
	var w wireRequest
	if err := json.Unmarshal(data, &w); err != nil {
		return w.RPCRequest, fmt.Errorf("request is not valid JSON: %w", err)
	}
	req := w.RPCRequest
	if len(w.Grant) > 0 && string(w.Grant) != "null" {
		g, err := s.verifier.DecodeGrant(w.Grant)
		if err != nil {
			return req, err
		}
		req.Grant = g
	}
	return req, nil
}

// check refuses what the node cannot do: an unknown agent or action, or arguments that do not
// match the action's inputs. It returns the arguments the action runs with.
func (s *Server) check(req *protocol.RPCRequest) (*Definition, map[string]any, string) {
	if req.Version > protocol.RPCVersion {
		return nil, nil, fmt.Sprintf("request version %d is not supported (this agent speaks %d)", req.Version, protocol.RPCVersion)
	}
	def, ok := s.defs[req.Agent]
	if !ok {
		names := make([]string, 0, len(s.agentList))
		for _, a := range s.agentList {
			names = append(names, a.Name)
		}
		return nil, nil, fmt.Sprintf("unknown agent %q (this node runs: %s)", req.Agent, strings.Join(names, ", "))
	}
	act, ok := def.Actions[req.Action]
	if !ok {
		return nil, nil, fmt.Sprintf("unknown action %s#%s (actions: %s)", req.Agent, req.Action, strings.Join(def.ActionNames(), ", "))
	}
	args, err := act.Arguments(req.Data)
	if err != nil {
		return nil, nil, fmt.Sprintf("invalid arguments for %s#%s: %v", req.Agent, req.Action, err)
	}
	return def, args, ""
}

// finish encodes the reply, remembers it for repeats of the request and sends it.
func (s *Server) finish(m *nats.Msg, n *node, req *protocol.RPCRequest, entry *dedupeEntry, o outcome) {
	data := s.encode(n, req, o)
	if entry != nil {
		s.seen.finish(entry, data)
	}
	if err := m.Respond(data); err != nil {
		s.log.Warn("reply failed", "identity", n.Identity, "request_id", req.RequestID, "error", err)
	}
}

// replayWhenDone answers a repeated request with the first one's reply, waiting for it when the
// first is still running.
func (s *Server) replayWhenDone(inflight *sync.WaitGroup, m *nats.Msg, e *dedupeEntry) {
	select {
	case <-e.done:
		_ = m.Respond(e.reply)
	default:
		inflight.Go(func() {
			<-e.done
			_ = m.Respond(e.reply)
		})
	}
}

func (s *Server) respond(m *nats.Msg, n *node, req *protocol.RPCRequest, o outcome) {
	if err := m.Respond(s.encode(n, req, o)); err != nil {
		s.log.Warn("reply failed", "identity", n.Identity, "request_id", req.RequestID, "error", err)
	}
}

func (s *Server) encode(n *node, req *protocol.RPCRequest, o outcome) []byte {
	rep := protocol.RPCReply{
		Version: protocol.RPCVersion, RequestID: req.RequestID, Identity: n.Identity,
		Success: o.success, Msg: o.msg, Data: o.data,
	}
	data, err := json.Marshal(rep)
	if err != nil {
		rep.Success, rep.Data = false, nil
		rep.Msg = fmt.Sprintf("%s#%s produced data that cannot be encoded: %v", req.Agent, req.Action, err)
		data, _ = json.Marshal(rep)
	}
	return data
}

// stateDir is identity's own directory under the state root.
func (s *Server) stateDir(identity string) string {
	return s.opts.stateRoot + "/" + identity
}
