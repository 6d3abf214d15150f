package coordinator

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// publishAgent puts an agent definition in the agents bucket, as a node agent does.
func (e *env) publishAgent(yaml string) {
	e.t.Helper()
	def, err := playbooks.ParseAgentDefinition("def.yaml", []byte(yaml))
	if err != nil {
		e.t.Fatal(err)
	}
	data, err := json.Marshal(def)
	if err != nil {
		e.t.Fatal(err)
	}
	agents, err := kvstore.OpenAgents(e.t.Context(), e.js, kvstore.Config{})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := agents.Publish(e.t.Context(), def.Name, def.Version, data); err != nil {
		e.t.Fatal(err)
	}
}

// rpc task properties are checked against the published agent definition before anything is
// sent: a step whose properties no published version accepts fails at once, naming the
// property, and no job reaches a worker.
func TestRPCPropertiesCheckedAgainstDefinition(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.publishAgent("name: puppet\nversion: 1.2.0\nactions:\n  disable:\n    inputs:\n      message: {type: string, validation: '^[a-z ]+$'}\n  enable: {}\n")
	// A newer version that also accepts force: a property only it knows still passes.
	e.publishAgent("name: puppet\nversion: 1.3.0\nactions:\n  disable:\n    inputs:\n      message: {type: string, validation: '^[a-z ]+$'}\n      force: {type: boolean}\n  enable: {}\n")
	e.startCoordinator("c1")
	w := e.startTestWorker(rpcAnswer())

	for _, tc := range []struct {
		name, action, props string
		wantMsg             string // empty: the step is sent and succeeds
	}{
		{"valid", "puppet.disable", "{message: upgrading now}", ""},
		{"valid in one version", "puppet.disable", "{message: upgrading, force: 'true'}", ""},
		{"misspelt property", "puppet.disable", "{mesage: upgrading}", `unknown input "mesage"`},
		{"failing validation", "puppet.disable", "{message: 'Upgrading; rm'}", `input "message": "Upgrading; rm" does not match`},
		{"wrong type", "puppet.disable", "{message: upgrading, force: maybe}", `input "force": "maybe" is not a valid boolean`},
		{"unknown action", "puppet.explode", "{}", "no action explode (actions: disable, enable) (puppet 1.3.0, 1.2.0)"},
		{"agent not published", "service.restart", "{name: httpd}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.executions())
			doc := header + "tasks:\n  - rpc:\n      action: " + tc.action + "\n      nodes: [web1, web2]\n      tries: 3\n      properties: " + tc.props + "\n"
			r := e.waitFinal(e.submit(doc, nil), 20*time.Second)
			sent := len(w.executions()) - before
			if tc.wantMsg == "" {
				if r.Status != protocol.StatusSuccess || sent == 0 {
					t.Fatalf("status %s with %d jobs sent, want success: %s", r.Status, sent, r.Error)
				}
				return
			}
			task := r.Tasks[0]
			if r.Status != protocol.StatusFailed || !strings.Contains(task.Msg, tc.wantMsg) || !strings.Contains(task.Msg, "nothing was sent") {
				t.Errorf("status %s, task msg %q; want failed with %q", r.Status, task.Msg, tc.wantMsg)
			}
			if sent != 0 || task.Tries != 1 {
				t.Errorf("%d jobs sent after %d tries; want none, refused on the first try", sent, task.Tries)
			}
		})
	}
}
