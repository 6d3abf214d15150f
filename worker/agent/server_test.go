package agent

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

func TestServer_RefusesBadRequests(t *testing.T) {
	nc, state, _ := serve(t, []Node{{Identity: "web1.test"}}, WithoutRegistration())
	for _, tc := range []struct {
		name, agent, action string
		data                map[string]any
		want                string
	}{
		{"unknown agent", "nosuch", "x", nil, `unknown agent "nosuch"`},
		{"unknown action", "puppet", "explode", nil, "unknown action puppet#explode (actions: disable, enable, runonce, status)"},
		{"missing required", "appmgr", "upgrade", nil, `input "revision" is required`},
		{"unknown input", "appmgr", "upgrade", map[string]any{"revision": "1.2.3", "force": true}, `unknown input "force"`},
		{"failed validation", "appmgr", "upgrade", map[string]any{"revision": "1.2.3; rm -rf /"}, `input "revision": "1.2.3; rm -rf /" does not match`},
		{"wrong type", "nrpe", "runcommand", map[string]any{"command": "check_load", "critical": "lots"}, `input "critical": "lots" is not a valid integer`},
		{"not shellsafe", "puppet", "disable", map[string]any{"message": `say "hi"`}, `input "message"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := call(t, nc, "web1.test", "", tc.agent, tc.action, tc.data)
			if rep.Success {
				t.Fatalf("request succeeded: %+v", rep)
			}
			if !strings.Contains(rep.Msg, tc.want) {
				t.Fatalf("msg %q does not contain %q", rep.Msg, tc.want)
			}
			if rep.Identity != "web1.test" {
				t.Fatalf("identity %q", rep.Identity)
			}
		})
	}
	// Nothing that was refused acted: no agent state was created.
	if _, err := os.Stat(filepath.Join(state, "web1.test", "appmgr")); !os.IsNotExist(err) {
		t.Fatalf("a refused request left state behind: %v", err)
	}
}

func TestServer_RepeatedRequestActsOnce(t *testing.T) {
	nc, state, _ := serve(t, []Node{{Identity: "web1.test"}}, WithoutRegistration())
	args := map[string]any{"revision": "2.0.0"}
	first := call(t, nc, "web1.test", "run1/3/1/0/web1.test", "appmgr", "upgrade", args)
	if !first.Success {
		t.Fatalf("upgrade failed: %s", first.Msg)
	}
	// Repeats, some concurrent: every one gets the first reply.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			again := call(t, nc, "web1.test", "run1/3/1/0/web1.test", "appmgr", "upgrade", args)
			if fmt.Sprint(again) != fmt.Sprint(first) {
				t.Errorf("repeat got %+v, want the first reply %+v", again, first)
			}
		})
	}
	wg.Wait()
	if got := readState(t, state, "web1.test", "appmgr/upgrades"); got != "1" {
		t.Fatalf("upgrades = %s, want 1: the repeated request acted again", got)
	}
	// A new request id acts again.
	if rep := call(t, nc, "web1.test", "run1/3/2/0/web1.test", "appmgr", "upgrade", args); !rep.Success {
		t.Fatalf("second upgrade failed: %s", rep.Msg)
	}
	if got := readState(t, state, "web1.test", "appmgr/upgrades"); got != "2" {
		t.Fatalf("upgrades = %s, want 2", got)
	}
}

func TestServer_ConcurrentDuplicatesActOnce(t *testing.T) {
	nc, state, _ := serve(t, []Node{{Identity: "web1.test"}}, WithoutRegistration())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if rep := call(t, nc, "web1.test", "same-id", "appmgr", "upgrade", map[string]any{"revision": "3.0.0"}); !rep.Success {
				t.Errorf("upgrade failed: %s", rep.Msg)
			}
		})
	}
	wg.Wait()
	if got := readState(t, state, "web1.test", "appmgr/upgrades"); got != "1" {
		t.Fatalf("upgrades = %s, want 1", got)
	}
}

func TestServer_ExecutableTimeoutKillsIt(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slow.yaml"), "name: slow\nversion: 0.1.0\nactions:\n  wait: {}\n", 0o644)
	writeFile(t, filepath.Join(dir, "slow"), "#!/bin/sh\nsleep 30 &\nsleep 30\n", 0o755)
	nc, _, _ := serve(t, []Node{{Identity: "n1"}}, WithoutRegistration(), WithAgentsDir(dir), WithExecTimeout(200e6))
	rep := call(t, nc, "n1", "", "slow", "wait", nil)
	if rep.Success || !strings.Contains(rep.Msg, "timed out after 200ms") {
		t.Fatalf("reply %+v, want a timeout", rep)
	}
}

func TestServer_ExecutableReplies(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "echo.yaml"), `name: echo
version: 0.1.0
actions:
  say:
    inputs:
      word: {type: string, required: true}
      times: {type: integer, default: 2}
  fail: {}
  garbage: {}
`, 0o644)
	// Reads the request from its environment; echo's JSON on stdin is checked by the grep.
	writeFile(t, filepath.Join(dir, "echo"), `#!/bin/sh
case "$1" in
say) grep -q '"identity":"n1"' && printf '{"data":{"word":"%s","times":%s,"fact":"%s"}}' "$FLEETBOOK_INPUT_WORD" "$FLEETBOOK_INPUT_TIMES" "$FLEETBOOK_FACT_COLOUR" ;;
fail) echo "it broke" >&2; exit 3 ;;
garbage) echo "not json" ;;
esac
`, 0o755)
	nc, _, _ := serve(t, []Node{{Identity: "n1", Facts: map[string]any{"colour": "blue"}}}, WithoutRegistration(), WithAgentsDir(dir))
	rep := call(t, nc, "n1", "", "echo", "say", map[string]any{"word": "hi"})
	if !rep.Success || field(t, rep, "word") != "hi" || field(t, rep, "times") != float64(2) || field(t, rep, "fact") != "blue" {
		t.Fatalf("say: %+v", rep)
	}
	if rep := call(t, nc, "n1", "", "echo", "fail", nil); rep.Success || !strings.Contains(rep.Msg, "exit status 3: it broke") {
		t.Fatalf("fail: %+v", rep)
	}
	if rep := call(t, nc, "n1", "", "echo", "garbage", nil); rep.Success || !strings.Contains(rep.Msg, "not JSON") {
		t.Fatalf("garbage: %+v", rep)
	}
}

func TestServer_Rpcutil(t *testing.T) {
	nc, _, srv := serve(t, []Node{{Identity: "a.test", Classes: []string{"roles::web"}}, {Identity: "b.test"}}, WithoutRegistration())
	if rep := call(t, nc, "b.test", "", "rpcutil", "ping", nil); !rep.Success || rep.Identity != "b.test" {
		t.Fatalf("ping: %+v", rep)
	}
	rep := call(t, nc, "a.test", "", "rpcutil", "agent_inventory", nil)
	agents, _ := field(t, rep, "agents").([]any)
	if len(agents) != len(srv.Agents()) || len(agents) != 5 {
		t.Fatalf("agent_inventory lists %v, want the 5 agents %v", agents, srv.Agents())
	}
	rep = call(t, nc, "a.test", "", "rpcutil", "inventory", nil)
	if fmt := field(t, rep, "classes"); len(fmt.([]any)) != 1 {
		t.Fatalf("inventory classes %v", fmt)
	}
}

func readState(t *testing.T, root, identity, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, identity, file))
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestServer_RegistersAndRefreshes(t *testing.T) {
	nodes := []Node{{Identity: "a.test", Facts: map[string]any{"cluster": "alfa"}}, {Identity: "b.test", Classes: []string{"roles::web"}}}
	nc, _, srv := serve(t, nodes, WithRefresh(100*time.Millisecond))
	js, _ := jetstream.New(nc)
	reg, err := kvstore.OpenNodes(t.Context(), js, kvstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := reg.ListNodes(t.Context())
	if err != nil || len(list) != 2 {
		t.Fatalf("registry lists %v (%v)", list, err)
	}
	if list[0].Facts["cluster"] != "alfa" || list[1].Classes[0] != "roles::web" || len(list[0].Agents) != len(srv.Agents()) {
		t.Fatalf("registrations %+v", list)
	}
	first := list[0].Seen
	natstest.Eventually(t, wait, func() error {
		n, err := reg.Get(t.Context(), "a.test")
		if err != nil || !n.Seen.After(first) {
			return fmt.Errorf("not refreshed: %v", err)
		}
		return nil
	})
}

func TestServer_RunWithoutJetStreamFails(t *testing.T) {
	s := natstest.RunServer(t, func(o *server.Options) { o.JetStream = false })
	nc, _ := natstest.Connect(t, s.ClientURL())
	srv, err := New(nc, []Node{{Identity: "a"}}, WithStateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(t.Context()); !errors.Is(err, ErrStartup) {
		t.Fatalf("Run = %v, want ErrStartup", err)
	}
}

func TestNew_Refuses(t *testing.T) {
	s := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, s.ClientURL())
	for _, tc := range []struct {
		name  string
		nodes []Node
		opts  []Option
		want  string
	}{
		{"no nodes", nil, nil, "no nodes"},
		{"bad identity", []Node{{Identity: "a b"}}, nil, `identity "a b"`},
		{"duplicate", []Node{{Identity: "a"}, {Identity: "a"}}, nil, "listed twice"},
		{"bad timeout", []Node{{Identity: "a"}}, []Option{WithExecTimeout(0)}, "exec timeout"},
		{"missing agents dir", []Node{{Identity: "a"}}, []Option{WithAgentsDir(filepath.Join(t.TempDir(), "nope"))}, "agents dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(nc, tc.nodes, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Registering publishes every agent's definition once, whatever the number of nodes, and what
// is published decodes into a definition that checks arguments like the node does.
func TestServer_PublishesDefinitions(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "web-cluster", "agents")
	nc, _, _ := serve(t, []Node{{Identity: "a.test"}, {Identity: "b.test"}}, WithAgentsDir(dir))
	js, _ := jetstream.New(nc)
	agents, err := kvstore.OpenAgents(t.Context(), js, kvstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	versions, err := agents.Versions(t.Context(), "puppet")
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := versions[protocol.AgentKey("puppet", "1.2.0")]
	if len(versions) != 1 || !ok {
		t.Fatalf("published puppet definitions %v, want version 1.2.0 only", slices.Collect(maps.Keys(versions)))
	}
	def, err := playbooks.DecodeAgentDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := def.Actions["disable"].Arguments(map[string]any{"message": `say "hi"`}); err == nil {
		t.Error("the published puppet#disable accepts a message its validation refuses")
	}
	if rpcutil, err := agents.Versions(t.Context(), "rpcutil"); err != nil || len(rpcutil) != 1 {
		t.Errorf("rpcutil published as %v (%v)", rpcutil, err)
	}
}
