package task

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/trust"
)

// DefaultRPCTimeout is how long an rpc batch waits for replies when the task sets no timeout.
const DefaultRPCTimeout = 10 * time.Second

// msgFailedNodes bounds how many failed nodes the result message names; Result.Nodes has all.
const msgFailedNodes = 5

// runRPCJob fans the job's request out to its targets and collects one NodeResult per target.
// Result.Success is true only when every node succeeded; Data counts {ok, failed, no_reply,
// total} so the coordinator can apply max_fail_percentage across batches.
func runRPCJob(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	res := env.NewResult(job, time.Now().UTC())
	res.ExitCode = -1
	if job.RPC == nil {
		res.Msg = "rpc job has no rpc spec"
		return res, nil
	}
	if len(job.Targets) == 0 {
		res.Msg = "rpc job has no targets"
		return res, nil
	}
	spec := *job.RPC
	if spec.Timeout <= 0 {
		spec.Timeout = job.Timeout
	}
	if job.Grant != nil && job.Grant.JobID != job.ID.String() {
		// Forwarded as it is, the agents would refuse every request: fail with the reason here.
		res.Msg = fmt.Sprintf("rpc job %s carries the grant of job %s", job.ID, job.Grant.JobID)
		return res, nil
	}
	nodes, err := fanout(ctx, env.NC, spec, job.Targets, job.ID.String(), job.ID.RunID, job.Grant, env.Replies)
	res.EndedAt = time.Now().UTC()
	switch {
	case ctx.Err() != nil:
		return res, ErrInterrupted
	case err != nil:
		res.Msg = err.Error()
		return res, nil
	}
	summarize(&res, spec, nodes)
	fit(&res, env.NC.MaxPayload()-resultHeadroom)
	return res, nil
}

// resultHeadroom is what fit leaves of the server's max payload for headers and framing.
const resultHeadroom = 8 << 10

// fit keeps a result publishable: a batch of thousands of nodes with chatty replies can exceed
// the server's max payload (1 MiB by default), and a result that cannot be published would make
// the job run again forever. It drops the data of successful nodes first, then every node's data,
// then the messages of successful nodes; success, counts and the failures' messages stay.
func fit(res *protocol.Result, limit int64) {
	steps := []func(id string, n protocol.NodeResult) protocol.NodeResult{
		func(_ string, n protocol.NodeResult) protocol.NodeResult {
			if n.Success {
				n.Data = nil
			}
			return n
		},
		func(_ string, n protocol.NodeResult) protocol.NodeResult { n.Data = nil; return n },
		func(_ string, n protocol.NodeResult) protocol.NodeResult {
			if n.Success {
				n.Msg = ""
			}
			return n
		},
	}
	for _, step := range steps {
		b, err := json.Marshal(res)
		if err != nil || int64(len(b)) <= limit {
			return
		}
		for id, n := range res.Nodes {
			res.Nodes[id] = step(id, n)
		}
		if counts, ok := res.Data.(map[string]any); ok {
			counts["truncated"] = true
		}
	}
}

// summarize fills the result of a finished fan-out from its per-node outcomes.
func summarize(res *protocol.Result, spec protocol.RPCSpec, nodes map[string]protocol.NodeResult) {
	ok, noReply := 0, 0
	var failed []string
	for id, n := range nodes {
		switch {
		case n.Success:
			ok++
		default:
			failed = append(failed, id)
			if strings.HasPrefix(n.Msg, noReplyPrefix) {
				noReply++
			}
		}
	}
	sort.Strings(failed)
	res.Nodes = nodes
	res.Success = len(failed) == 0 && ok > 0
	res.ExitCode = 0
	res.Data = map[string]any{"ok": ok, "failed": len(failed), "no_reply": noReply, "total": len(nodes)}
	res.Msg = fmt.Sprintf("%s#%s: %d/%d nodes ok", spec.Agent, spec.Action, ok, len(nodes))
	if len(failed) == 0 {
		return
	}
	parts := make([]string, 0, msgFailedNodes)
	for _, id := range failed[:min(len(failed), msgFailedNodes)] {
		parts = append(parts, fmt.Sprintf("%s (%s)", id, nodes[id].Msg))
	}
	res.Msg += "; failed: " + strings.Join(parts, ", ")
	if more := len(failed) - msgFailedNodes; more > 0 {
		res.Msg += fmt.Sprintf(" and %d more", more)
	}
}

// noReplyPrefix starts the message of a node that did not answer in time.
const noReplyPrefix = "no reply within "

// Fanout sends spec's request to every target over core NATS and collects the replies until all
// have answered or spec.Timeout (default DefaultRPCTimeout) passes. Every target gets a result:
// a node that does not answer in time fails with "no reply within T", and one no agent listens
// for fails at once. spec.Assert, when set, must hold on a successful reply's data.
//
// Each node's request id is idPrefix/identity, so a repeated fan-out (a redelivered job) is
// recognized by the agents and acts only once. caller names the requester in the agents' logs.
//
// grant, when the coordinator signed the job, is forwarded unchanged in every request, with the
// node's proof of membership in the grant's target root: built here from targets, the job's
// targets, as the coordinator built it (trust.NewTree), once per fan-out.
//
// All requests share one reply subscription, so 10,000 targets cost 10,000 publishes and one
// subscription, not 10,000 request round trips. The error is for a bad assert expression or a
// connection failure; ctx cancels the wait (the results so far are returned, with the error).
func Fanout(ctx context.Context, nc *nats.Conn, spec protocol.RPCSpec, targets []string, idPrefix, caller string, grant *protocol.Grant) (map[string]protocol.NodeResult, error) {
	return fanout(ctx, nc, spec, targets, idPrefix, caller, grant, nil)
}

// fanout is Fanout telling obs, when not nil, each node's outcome.
func fanout(ctx context.Context, nc *nats.Conn, spec protocol.RPCSpec, targets []string, idPrefix, caller string, grant *protocol.Grant, obs ReplyObserver) (map[string]protocol.NodeResult, error) {
	if spec.Agent == "" || spec.Action == "" {
		return nil, fmt.Errorf("rpc: agent and action are required (got %q#%q)", spec.Agent, spec.Action)
	}
	var check *playbooks.Assertion
	if spec.Assert != "" {
		// The playbook's assert was checked when it was submitted; this parses the rendered text
		// the job carries.
		var err error
		if check, err = playbooks.ParseAssertion(spec.Assert); err != nil {
			return nil, fmt.Errorf("rpc: %w", err)
		}
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultRPCTimeout
	}

	results := make(map[string]protocol.NodeResult, len(targets))
	var ids []string
	for _, id := range targets {
		if _, dup := results[id]; dup {
			continue
		}
		if !kvstore.ValidIdentity(id) {
			results[id] = protocol.NodeResult{Msg: "not a valid node identity"}
			if obs != nil {
				obs.NodeReplied("invalid", 0)
			}
			continue
		}
		results[id] = protocol.NodeResult{}
		ids = append(ids, id)
	}

	c := newCollector(ids)
	inbox := nc.NewInbox()
	sub, err := nc.Subscribe(inbox+".*", c.receive)
	if err != nil {
		return nil, fmt.Errorf("rpc: subscribe for replies: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, 256<<20)

	req := protocol.RPCRequest{Version: protocol.RPCVersion, Agent: spec.Agent, Action: spec.Action, Data: spec.Properties, Caller: caller}
	var (
		tree      *trust.Tree
		grantJSON []byte
	)
	if grant != nil {
		tree = trust.NewTree(targets)
		// Encoded once and spliced into every request: it is the same in all of them.
		if grantJSON, err = json.Marshal(grant); err != nil {
			return nil, fmt.Errorf("rpc: encode grant: %w", err)
		}
	}
	for i, id := range ids {
		req.RequestID = trust.RequestID(idPrefix, id)
		if tree != nil {
			req.Proof, _ = tree.Proof(id)
		}
		data, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("rpc: encode request: %w", err)
		}
		if grantJSON != nil {
			data = append(append(append(data[:len(data)-1], `,"grant":`...), grantJSON...), '}')
		}
		if err := nc.PublishRequest(protocol.NodeRPCSubject(id), inbox+"."+strconv.Itoa(i), data); err != nil {
			return nil, fmt.Errorf("rpc: send to %s: %w", id, err)
		}
	}
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("rpc: flush requests: %w", err)
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var waitErr error
	select {
	case <-c.done:
	case <-timer.C:
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	_ = sub.Unsubscribe()

	c.mu.Lock()
	defer c.mu.Unlock()
	for i, id := range ids {
		results[id] = outcome(c.replies[i], check, timeout)
		if obs != nil {
			observe(obs, c.replies[i], results[id])
		}
	}
	return results, waitErr
}

// outcome turns one node's reply (nil: none came) into its result.
func outcome(rep *reply, check *playbooks.Assertion, timeout time.Duration) protocol.NodeResult {
	switch {
	case rep == nil:
		return protocol.NodeResult{Msg: noReplyPrefix + timeout.String()}
	case rep.noResponders:
		return protocol.NodeResult{Msg: "no agent is listening for this node"}
	case rep.err != "":
		return protocol.NodeResult{Msg: rep.err}
	case !rep.Success:
		return protocol.NodeResult{Msg: rep.Msg, Data: rep.Data}
	case check != nil && !check.Eval(rep.Data):
		return protocol.NodeResult{Msg: "assertion failed: " + check.String(), Data: rep.Data}
	}
	return protocol.NodeResult{Success: true, Msg: rep.Msg, Data: rep.Data}
}

// observe tells obs how one node of a fan-out answered.
func observe(obs ReplyObserver, rep *reply, res protocol.NodeResult) {
	switch {
	case rep == nil:
		obs.NodeReplied("no_reply", 0)
	case rep.noResponders:
		obs.NodeReplied("no_agent", rep.latency)
	case rep.err != "":
		obs.NodeReplied("invalid", rep.latency)
	case res.Success:
		obs.NodeReplied("ok", rep.latency)
	default:
		obs.NodeReplied("failed", rep.latency)
	}
}

// reply is what came back for one target.
type reply struct {
	protocol.RPCReply
	noResponders bool
	err          string
	// latency is how long after the fan-out's first request the reply came.
	latency time.Duration
}

// collector gathers the replies of one fan-out; the reply subject's last token is the target's
// index.
type collector struct {
	// start is when the fan-out began sending; set before the reply subscription exists.
	start   time.Time
	mu      sync.Mutex
	replies []*reply
	pending int
	done    chan struct{}
}

func newCollector(ids []string) *collector {
	c := &collector{start: time.Now(), replies: make([]*reply, len(ids)), pending: len(ids), done: make(chan struct{})}
	if len(ids) == 0 {
		close(c.done)
	}
	return c
}

func (c *collector) receive(m *nats.Msg) {
	i, err := strconv.Atoi(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:])
	if err != nil || i < 0 || i >= len(c.replies) {
		return
	}
	rep := &reply{latency: time.Since(c.start)}
	switch {
	case len(m.Data) == 0 && m.Header.Get("Status") == "503":
		rep.noResponders = true
	default:
		if err := json.Unmarshal(m.Data, &rep.RPCReply); err != nil {
			rep.err = "reply is not valid JSON: " + err.Error()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The first answer counts: a second agent claiming the same identity is ignored.
	if c.replies[i] != nil {
		return
	}
	c.replies[i] = rep
	if c.pending--; c.pending == 0 {
		close(c.done)
	}
}
