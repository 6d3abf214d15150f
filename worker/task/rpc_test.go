package task

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// exampleAgents is the web-cluster example's agents directory.
var exampleAgents = filepath.Join("..", "..", "examples", "web-cluster", "agents")

// simNodes names n simulated nodes.
func simNodes(n int) []agent.Node {
	nodes := make([]agent.Node, n)
	for i := range nodes {
		nodes[i] = agent.Node{Identity: fmt.Sprintf("sim%05d.test", i)}
	}
	return nodes
}

func identities(nodes []agent.Node) []string {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.Identity
	}
	return ids
}

// startFleet runs an in-process fleet of nodes on its own connection to url until the test
// ends, and returns its state root.
func startFleet(t testing.TB, url string, nodes []agent.Node, opts ...agent.Option) string {
	t.Helper()
	nc, _ := natstest.Connect(t, url)
	state := t.TempDir()
	base := []agent.Option{agent.WithoutRegistration(), agent.WithAgentsDir(exampleAgents), agent.WithStateDir(state)}
	srv, err := agent.New(nc, nodes, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Run(ctx); err != nil {
			t.Errorf("fleet: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-srv.Ready():
	case <-time.After(wait):
		t.Fatal("fleet not ready")
	}
	return state
}

// fleetConn starts a server and connects to it, for an rpc job's fan-out.
func fleetConn(t *testing.T) *nats.Conn {
	t.Helper()
	s := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, s.ClientURL())
	return nc
}

// executeRPC runs an rpc job that fans out over nc, and returns its result as the coordinator
// reads it: the job and its result through JSON, as a worker receives and publishes them.
func executeRPC(t *testing.T, nc *nats.Conn, job protocol.Job) protocol.Result {
	t.Helper()
	env := testEnv()
	env.NC = nc
	res := mustExecute(t, env, received(t, job))
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var stored protocol.Result
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	return stored
}

func rpcJob(step int, spec protocol.RPCSpec, targets []string) protocol.Job {
	return protocol.Job{
		Version: protocol.JobVersion,
		ID:      protocol.JobID{RunID: "rpcrun", Step: step, Attempt: 1},
		Type:    protocol.TaskRPC,
		RPC:     &spec,
		Targets: targets,
	}
}

func TestRPCJob_ThousandNodes(t *testing.T) {
	nc := fleetConn(t)
	nodes := simNodes(1000)
	startFleet(t, nc.ConnectedUrl(), nodes)

	job := rpcJob(1, protocol.RPCSpec{Agent: "rpcutil", Action: "ping"}, identities(nodes))
	res := executeRPC(t, nc, job)
	if !res.Success || len(res.Nodes) != 1000 {
		t.Fatalf("success %v, %d nodes, msg %q", res.Success, len(res.Nodes), res.Msg)
	}
	if res.Msg != "rpcutil#ping: 1000/1000 nodes ok" {
		t.Fatalf("msg %q", res.Msg)
	}
	counts := res.Data.(map[string]any)
	if counts["ok"] != float64(1000) || counts["failed"] != float64(0) {
		t.Fatalf("counts %v", counts)
	}
	for id, n := range res.Nodes {
		if !n.Success || n.Data.(map[string]any)["pong"] == nil {
			t.Fatalf("%s: %+v", id, n)
		}
	}
}

func TestRPCJob_DownNodeFailsAndIsNamed(t *testing.T) {
	nc := fleetConn(t)
	nodes := simNodes(3)
	startFleet(t, nc.ConnectedUrl(), nodes)

	// The fleet serves the wildcard subject, so the missing node is only noticed by its silence.
	targets := append(identities(nodes), "ghost.test")
	job := rpcJob(1, protocol.RPCSpec{Agent: "rpcutil", Action: "ping", Timeout: 300 * time.Millisecond}, targets)
	res := executeRPC(t, nc, job)
	if res.Success {
		t.Fatalf("succeeded with a node down: %q", res.Msg)
	}
	if got := res.Nodes["ghost.test"]; got.Success || got.Msg != "no reply within 300ms" {
		t.Fatalf("ghost: %+v", got)
	}
	if !strings.Contains(res.Msg, "3/4 nodes ok; failed: ghost.test (no reply within 300ms)") {
		t.Fatalf("msg %q", res.Msg)
	}
	counts := res.Data.(map[string]any)
	if counts["ok"] != float64(3) || counts["failed"] != float64(1) || counts["no_reply"] != float64(1) {
		t.Fatalf("counts %v", counts)
	}
}

func TestFanout_NoAgentListening(t *testing.T) {
	nc := fleetConn(t)
	// A single node subscribes to its own subject only: others get no-responders at once.
	startFleet(t, nc.ConnectedUrl(), []agent.Node{{Identity: "alone.test"}})
	res, err := Fanout(t.Context(), nc, protocol.RPCSpec{Agent: "rpcutil", Action: "ping", Timeout: time.Minute},
		[]string{"alone.test", "gone.test", "bad id"}, "r/1/1/0", "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res["alone.test"].Success || res["gone.test"].Msg != "no agent is listening for this node" || res["bad id"].Msg != "not a valid node identity" {
		t.Fatalf("results %+v", res)
	}
}

func TestRPCJob_AssertAndNodeFailures(t *testing.T) {
	nc := fleetConn(t)
	nodes := simNodes(4)
	state := startFleet(t, nc.ConnectedUrl(), nodes)
	ids := identities(nodes)

	up := rpcJob(1, protocol.RPCSpec{Agent: "appmgr", Action: "upgrade", Properties: map[string]any{"revision": "2.0.0"},
		Assert: "revision=2.0.0 and upgrades>=1"}, ids)
	if res := executeRPC(t, nc, up); !res.Success {
		t.Fatalf("upgrade: %s", res.Msg)
	}

	// One node keeps its load check red.
	if err := os.MkdirAll(filepath.Join(state, ids[2], "nrpe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, ids[2], "nrpe", "force_check_load"), []byte("CRITICAL"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := rpcJob(2, protocol.RPCSpec{Agent: "nrpe", Action: "runcommand", Properties: map[string]any{"command": "check_load"}}, ids)
	res := executeRPC(t, nc, check)
	if res.Success || res.Nodes[ids[2]].Msg != "CRITICAL - load average: 1" || !res.Nodes[ids[0]].Success {
		t.Fatalf("check_load: %q %+v", res.Msg, res.Nodes)
	}

	// The reply succeeds but the assertion does not hold.
	st := rpcJob(3, protocol.RPCSpec{Agent: "appmgr", Action: "status", Assert: "revision=3.0.0"}, ids[:1])
	res = executeRPC(t, nc, st)
	if res.Success || res.Nodes[ids[0]].Msg != "assertion failed: revision=3.0.0" {
		t.Fatalf("assert: %q %+v", res.Msg, res.Nodes)
	}

	// A refused request names the problem per node.
	bad := rpcJob(4, protocol.RPCSpec{Agent: "appmgr", Action: "upgrade"}, ids[:1])
	res = executeRPC(t, nc, bad)
	if res.Success || !strings.Contains(res.Nodes[ids[0]].Msg, `input "revision" is required`) {
		t.Fatalf("bad args: %+v", res.Nodes)
	}

	// A bad assert fails the job before anything is sent.
	syntax := rpcJob(5, protocol.RPCSpec{Agent: "appmgr", Action: "upgrade", Properties: map[string]any{"revision": "9.9.9"}, Assert: "revision"}, ids)
	res = executeRPC(t, nc, syntax)
	if res.Success || !strings.Contains(res.Msg, "expected an operator") || len(res.Nodes) != 0 {
		t.Fatalf("bad assert: %+v", res)
	}
	if got := readFile(t, filepath.Join(state, ids[0], "appmgr", "revision")); got != "2.0.0" {
		t.Fatalf("revision %s after a refused job", got)
	}
}

func TestFanout_RepeatedBatchActsOnce(t *testing.T) {
	nc := fleetConn(t)
	nodes := simNodes(20)
	state := startFleet(t, nc.ConnectedUrl(), nodes)
	spec := protocol.RPCSpec{Agent: "appmgr", Action: "upgrade", Properties: map[string]any{"revision": "4.0.0"}}
	for range 3 {
		res, err := Fanout(t.Context(), nc, spec, identities(nodes), "run/7/1/0", "run", nil)
		if err != nil {
			t.Fatal(err)
		}
		for id, n := range res {
			if !n.Success {
				t.Fatalf("%s: %s", id, n.Msg)
			}
		}
	}
	for _, n := range nodes {
		if got := readFile(t, filepath.Join(state, n.Identity, "appmgr", "upgrades")); got != "1" {
			t.Fatalf("%s upgraded %s times, want once", n.Identity, got)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestFitDropsNodeDataToStayPublishable(t *testing.T) {
	nodes := map[string]protocol.NodeResult{}
	for i := range 100 {
		nodes[fmt.Sprintf("n%03d", i)] = protocol.NodeResult{Success: i != 0, Msg: "fine", Data: strings.Repeat("x", 100)}
	}
	res := protocol.Result{Nodes: nodes, Data: map[string]any{"ok": 99}}
	fit(&res, 8000)
	if res.Nodes["n001"].Data != nil || res.Nodes["n000"].Data == nil || res.Data.(map[string]any)["truncated"] != true {
		t.Fatalf("after fit: %+v %+v", res.Nodes["n001"], res.Nodes["n000"])
	}
	fit(&res, 100)
	if res.Nodes["n000"].Msg != "fine" || res.Nodes["n001"].Msg != "" || res.Nodes["n000"].Data != nil {
		t.Fatalf("after tight fit: %+v %+v", res.Nodes["n000"], res.Nodes["n001"])
	}
}

// replyLog records what a fan-out tells its ReplyObserver.
type replyLog struct {
	mu       sync.Mutex
	outcomes map[string]int
	timed    int
}

func (l *replyLog) NodeReplied(outcome string, latency time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.outcomes == nil {
		l.outcomes = map[string]int{}
	}
	l.outcomes[outcome]++
	if latency > 0 {
		l.timed++
	}
}

// The observer hears each node's outcome once: answered, nothing listening, not an identity,
// silent; only the nodes that answered have a latency.
func TestFanout_TellsEachNodesOutcome(t *testing.T) {
	nc := fleetConn(t)
	startFleet(t, nc.ConnectedUrl(), []agent.Node{{Identity: "alone.test"}})
	var log replyLog
	_, err := fanout(t.Context(), nc, protocol.RPCSpec{Agent: "rpcutil", Action: "ping", Timeout: time.Minute},
		[]string{"alone.test", "gone.test", "bad id"}, "r/1/1/0", "r", nil, &log)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"ok": 1, "no_agent": 1, "invalid": 1}; fmt.Sprint(log.outcomes) != fmt.Sprint(want) || log.timed != 2 {
		t.Fatalf("outcomes %v (%d with a latency), want %v (2)", log.outcomes, log.timed, want)
	}

	nodes := simNodes(2)
	startFleet(t, nc.ConnectedUrl(), nodes)
	log = replyLog{}
	// Two nodes: the fleet serves the wildcard subject, so the missing one is silent.
	env := Env{Worker: "w", NC: nc, Replies: &log}
	job := rpcJob(1, protocol.RPCSpec{Agent: "rpcutil", Action: "ping", Timeout: 300 * time.Millisecond}, append(identities(nodes), "ghost.test"))
	if _, err := Execute(t.Context(), env, &job); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"ok": 2, "no_reply": 1}; fmt.Sprint(log.outcomes) != fmt.Sprint(want) || log.timed != 2 {
		t.Fatalf("rpc job outcomes %v (%d with a latency), want %v (2)", log.outcomes, log.timed, want)
	}
}
