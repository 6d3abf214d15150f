package agent

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// wait bounds every wait in these tests: generous, since the machine is shared.
const wait = 20 * time.Second

// exampleAgents is the web-cluster example's agents directory.
var exampleAgents = filepath.Join("..", "..", "examples", "web-cluster", "agents")

// serve starts a Server for nodes on a fresh embedded server and returns a client connection
// and the state root. The server stops when the test ends.
func serve(t *testing.T, nodes []Node, opts ...Option) (*nats.Conn, string, *Server) {
	t.Helper()
	s := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, s.ClientURL())
	state := t.TempDir()
	base := []Option{WithAgentsDir(exampleAgents), WithStateDir(state), WithExecTimeout(5 * time.Second)}
	srv, err := New(nc, nodes, append(base, opts...)...)
	if err != nil {
		t.Fatalf("new agent server: %v", err)
	}
	run(t, srv)
	return nc, state, srv
}

// run runs srv until the test ends and waits for it to be ready.
func run(t *testing.T, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Run(ctx); err != nil {
			t.Errorf("agent server: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-srv.Ready():
	case <-time.After(wait):
		t.Fatalf("agent server not ready within %s", wait)
	}
}

// call sends one request to identity and decodes the reply.
func call(t *testing.T, nc *nats.Conn, identity, reqID, agent, action string, data map[string]any) protocol.RPCReply {
	t.Helper()
	body, _ := json.Marshal(protocol.RPCRequest{Version: protocol.RPCVersion, RequestID: reqID, Agent: agent, Action: action, Data: data})
	m, err := nc.Request(protocol.NodeRPCSubject(identity), body, wait)
	if err != nil {
		t.Fatalf("request %s#%s to %s: %v", agent, action, identity, err)
	}
	var rep protocol.RPCReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		t.Fatalf("decode reply %q: %v", m.Data, err)
	}
	return rep
}

// field returns key of a reply's data map.
func field(t *testing.T, rep protocol.RPCReply, key string) any {
	t.Helper()
	m, ok := rep.Data.(map[string]any)
	if !ok {
		t.Fatalf("reply data is %T (%v), want a map; msg %q", rep.Data, rep.Data, rep.Msg)
	}
	return m[key]
}
