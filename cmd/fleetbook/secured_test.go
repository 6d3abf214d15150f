package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// securedBook discovers two nodes through the registry (with the connectivity test), asks each
// for its puppet status, disables puppet on them, and runs a shell step on the worker.
const securedBook = `name: secured
version: 1.0.0
author: test
description: an rpc and a shell step on a secured deployment
nodes:
  web:
    type: fleet
    identities: ["/^web/"]
    at_least: 2
    test: true
tasks:
  - rpc:
      description: puppet status
      action: puppet.status
      nodes: "{{{ nodes.web }}}"
  - rpc:
      description: disable puppet
      action: puppet.disable
      nodes: "{{{ nodes.web }}}"
  - shell:
      description: on the worker
      command: echo done
`

// A deployment on a stock nats-server configured with `fleetbook auth server-config`: the
// coordinator, the worker and two node agents are separate processes, each with the credential
// of its role (the agents with per-identity credentials from `fleetbook auth issue`), and an
// operator runs a playbook with rpc and shell steps. Every role's permissions suffice for what it
// does: the run succeeds and no process was refused anything.
func TestSecuredDeploymentProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	authDir := filepath.Join(dir, "auth")
	if r := cli(t, dir, "auth", "init", "--dir", authDir); r.code != exitOK {
		t.Fatalf("auth init: exit %d: %s", r.code, r.stderr)
	}
	r := cli(t, dir, "auth", "server-config", "--dir", authDir)
	if r.code != exitOK {
		t.Fatalf("auth server-config: exit %d: %s", r.code, r.stderr)
	}
	conf := writeFile(t, dir, "server.conf", "listen: 127.0.0.1:-1\njetstream: {store_dir: "+filepath.Join(dir, "js")+"}\n"+r.stdout)
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoLog, opts.NoSigs = true, true
	srv := natstest.RunServer(t, func(o *server.Options) { *o = *opts })
	url := srv.ClientURL()

	var show struct{ Trust string }
	decodeOne(t, cli(t, dir, "auth", "show", "--dir", authDir, "--json").stdout, &show)
	creds := func(role string) string { return filepath.Join(authDir, "creds", role+".creds") }
	procs := []*proc{
		start(t, "coordinator", "coordinator", "--server", url, "--creds", creds("coordinator"), "--policy", filepath.Join(authDir, "policy.yaml"),
			"--secrets-key", filepath.Join(authDir, "secrets.key")),
		start(t, "worker", "worker", "--server", url, "--creds", creds("worker"), "--secrets-key", filepath.Join(authDir, "secrets.key")),
	}
	agents, err := filepath.Abs("../../examples/web-cluster/agents")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"web1.example.net", "web2.example.net"} {
		path := filepath.Join(dir, id+".creds")
		if r := cli(t, dir, "auth", "issue", "agent", "--identity", id, "--dir", authDir, "--out", path); r.code != exitOK {
			t.Fatalf("auth issue agent: exit %d: %s", r.code, r.stderr)
		}
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("issued credential %s: mode %v (%v), want 0600", path, info.Mode().Perm(), err)
		}
		procs = append(procs, start(t, id, "agent", "--server", url, "--creds", path, "--identity", id,
			"--agents-dir", agents, "--state-dir", filepath.Join(dir, "nodes"), "--trust", show.Trust))
	}
	// The run discovers the nodes in the registry: both must have registered first.
	for _, p := range procs[2:] {
		natstest.Eventually(t, 2*time.Minute, func() error {
			if log, _ := os.ReadFile(p.log); !bytes.Contains(log, []byte("serving 1 node(s)")) {
				return fmt.Errorf("%s not serving yet", p.name)
			}
			return nil
		})
	}
	book := writeFile(t, dir, "secured.yaml", securedBook)
	operator := []string{"--server", url, "--creds", creds("operator")}
	var rep struct {
		Status string
		Error  string
	}
	natstest.Eventually(t, 2*time.Minute, func() error {
		r := cli(t, dir, append([]string{"run", book, "--json"}, operator...)...)
		switch r.code {
		case exitInfra: // the services may still be starting
			return fmt.Errorf("run: exit %d: %s", r.code, r.stderr)
		case exitRefused:
			t.Fatalf("run refused: %s", r.stderr)
		}
		decodeOne(t, r.stdout, &rep)
		return nil
	})
	if rep.Status != "success" {
		t.Fatalf("run: %s: %s", rep.Status, rep.Error)
	}
	// A viewer reads, and may not run.
	viewer := []string{"--server", url, "--creds", creds("viewer")}
	if r := cli(t, dir, append([]string{"runs", "list", "--json"}, viewer...)...); r.code != exitOK {
		t.Errorf("viewer runs list: exit %d: %s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"run", book}, {"runs", "cancel", "some-run"}, {"runs", "prune", "--yes", "--older-than", "1h"}} {
		r := cli(t, dir, append(args, viewer...)...)
		if r.code != exitRefused || !strings.Contains(r.stderr, "refused by the server") {
			t.Errorf("viewer %v: exit %d, want 2 and the server's refusal\nstderr: %s", args, r.code, r.stderr)
		}
	}
	// A compromised worker may publish on node subjects, but a node acts only on what the
	// coordinator signed: an unsigned request is refused.
	worker, err := auth.UserKey(creds("worker"))
	if err != nil {
		t.Fatal(err)
	}
	wpub, _ := worker.PublicKey()
	nc, err := nats.Connect(url, nats.UserCredentials(creds("worker")), nats.CustomInboxPrefix(auth.InboxPrefix(wpub)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged, _ := json.Marshal(protocol.RPCRequest{Version: protocol.RPCVersion, RequestID: "forged-1", Agent: "puppet", Action: "enable"})
	reply, err := nc.Request(protocol.NodeRPCSubject("web1.example.net"), forged, 30*time.Second)
	if err != nil {
		t.Fatalf("forged request: %v", err)
	}
	var answer protocol.RPCReply
	if err := json.Unmarshal(reply.Data, &answer); err != nil || answer.Success || !strings.Contains(answer.Msg, "not signed") {
		t.Errorf("an unsigned request from a worker credential: %s (%v), want a refusal saying it is not signed", reply.Data, err)
	}

	// A second operator credential that the policy does not name is a stranger to the coordinator:
	// the server lets it call the API, the policy refuses it, and the audit says so.
	stranger := filepath.Join(dir, "stranger.creds")
	if r := cli(t, dir, "auth", "issue", "operator", "--dir", authDir, "--out", stranger); r.code != exitOK {
		t.Fatalf("auth issue operator: exit %d: %s", r.code, r.stderr)
	}
	if r := cli(t, dir, "run", book, "--server", url, "--creds", stranger); r.code != exitRefused || !strings.Contains(r.stderr, "not one of the policy's identities") {
		t.Errorf("a run by a key the policy does not name: exit %d, want 2 and the policy's refusal\nstderr: %s", r.code, r.stderr)
	}
	r = cli(t, dir, append([]string{"audit", "--json"}, operator...)...)
	if r.code != exitOK || !strings.Contains(r.stdout, `"deny"`) || !strings.Contains(r.stdout, `"operator"`) {
		t.Errorf("audit: exit %d, want the allowed and the refused submit\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, p := range procs {
		p.stop(t)
		log, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(log, []byte("Permissions Violation")) || bytes.Contains(log, []byte("level=ERROR")) {
			t.Errorf("%s was refused something or failed:\n%s", p.name, log)
		}
		if p.name == "web1.example.net" && !bytes.Contains(log, []byte(`msg="refused request"`)) {
			t.Errorf("web1 did not log the forged request it refused:\n%s", log)
		}
	}
}

// After `auth rotate`, the data dir's own processes use the new credentials, the default policy
// names the new keys, and the runs made before are still there (the account did not change).
func TestAuthRotateKeepsRunsAndTheDefaultPolicy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	book := writeFile(t, dir, "hello.yaml", okBook)
	r := cli(t, dir, "run", book, "--embedded", "--data-dir", state, "--input", "who=before", "--json")
	if r.code != exitOK {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	var first struct{ ID string }
	decodeOne(t, r.stdout, &first)
	before, err := os.ReadFile(filepath.Join(state, "auth", "creds", "operator.creds"))
	if err != nil {
		t.Fatal(err)
	}
	oldConsole := consolePolicyKey(t, filepath.Join(state, "auth"))
	if r := cli(t, dir, "auth", "rotate", "--dir", filepath.Join(state, "auth")); r.code != exitOK {
		t.Fatalf("auth rotate: exit %d: %s", r.code, r.stderr)
	}
	after, err := os.ReadFile(filepath.Join(state, "auth", "creds", "operator.creds"))
	if err != nil || bytes.Equal(before, after) {
		t.Fatalf("the operator credential was not issued again (%v)", err)
	}
	if newConsole := consolePolicyKey(t, filepath.Join(state, "auth")); newConsole == oldConsole {
		t.Errorf("the console credential was not issued again, or the policy still names its old key")
	}
	checkListed(t, dir, []string{"--embedded", "--data-dir", state}, first.ID)
}

// The data dir of `run --embedded` holds no sensitive input in any form after the run, nor even an
// ordinary input: values are sealed before they are stored, and the store is encrypted at rest.
func TestEmbeddedRunLeavesNoValueOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	book := writeFile(t, dir, "secret.yaml", `name: secret
version: 1.0.0
author: test
description: a sensitive and a plain input, both echoed
inputs:
  password:
    type: string
    description: a secret
    sensitive: true
  note:
    type: string
    description: not a secret
tasks:
  - shell:
      description: use both
      command: echo "$PASSWORD $NOTE"
      environment:
        PASSWORD: "{{ inputs.password }}"
        NOTE: "{{ inputs.note }}"
`)
	secret, note := canary(), canary()
	r := cli(t, dir, "run", book, "--embedded", "--data-dir", state, "--input", "password="+secret, "--input", "note="+note)
	if r.code != exitOK {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, note) || strings.Contains(r.stdout+r.stderr, secret) {
		t.Fatalf("the report shows the secret, or not the note:\n%s", r.stdout)
	}
	for what, value := range map[string]string{"sensitive input": secret, "plain input": note} {
		if hits := scanStoreDir(t, state, value); len(hits) > 0 {
			t.Errorf("the %s is on disk in clear: %v", what, hits)
		}
	}
	// That the scan finds what it looks for is shown by TestSensitiveValuesNeverAtRest's control
	// run without a key.
}

// With no server, context or NATS_URL given, a client uses the nats context selected with the
// nats CLI (`nats context select`), with its credentials — not an embedded server.
func TestSelectedNatsContextIsUsed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	up := startUp(t, dir, state, listen)
	book := writeFile(t, dir, "hello.yaml", okBook)
	if r := cli(t, dir, "run", book, "--input", "who=selected", "--server", "nats://"+listen, "--data-dir", state); r.code != exitOK {
		t.Fatalf("run against up: exit %d: %s", r.code, r.stderr)
	}
	config := filepath.Join(dir, "config")
	ctxFile, err := os.ReadFile(filepath.Join(state, "auth", "context.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, mkdir(t, filepath.Join(config, "nats", "context")), "fb.json", string(ctxFile))
	writeFile(t, filepath.Join(config, "nats"), "context.txt", "fb")
	// From another directory, so no ./.fleetbook could be what answers.
	elsewhere := t.TempDir()
	r := cliEnv(t, elsewhere, []string{"XDG_CONFIG_HOME=" + config}, "runs", "list", "--json")
	if r.code != exitOK || !strings.Contains(r.stdout, `"hello"`) {
		t.Fatalf("runs list with a selected context: exit %d, want the run made against up\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, ".fleetbook")); err == nil {
		t.Error("an embedded server was started instead of using the selected context")
	}
	up.stop(t)
}

func mkdir(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// consolePolicyKey returns the console credential's key of the setup in dir, after checking that
// the setup's policy names it console and gives it the console action only.
func consolePolicyKey(t *testing.T, dir string) string {
	t.Helper()
	kp, err := auth.UserKey(filepath.Join(dir, "creds", "console.creds"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := kp.PublicKey()
	p, err := policy.Load(filepath.Join(dir, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if name := p.NameOf(key); name != "console" {
		t.Fatalf("the policy names the console credential %q, want console", name)
	}
	for _, a := range policy.Actions {
		if d := p.Decide(key, a, "hello", nil); d.Allowed != (a == policy.Console) {
			t.Errorf("the default policy, console %s: %+v", a, d)
		}
	}
	return key
}
