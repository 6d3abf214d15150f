package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// webCluster is the web-cluster example, run as README.md says, with the receiver moved to a
// free port so tests (and anyone else on the machine) do not collide on the default one.
type webCluster struct {
	dir, data, fleet, agents, book string
	url                            string
}

func newWebCluster(t *testing.T) *webCluster {
	t.Helper()
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "web-cluster"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	raw, err := os.ReadFile(filepath.Join(example, "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "listen: 127.0.0.1:8931") {
		t.Fatal("examples/web-cluster/fleet.yaml no longer has the receiver this test moves")
	}
	dir := t.TempDir()
	w := &webCluster{
		dir: dir, data: filepath.Join(dir, "state"), fleet: filepath.Join(dir, "fleet.yaml"),
		agents: filepath.Join(example, "agents"), book: filepath.Join(example, "upgrade.yaml"),
		url: "http://" + addr,
	}
	moved := strings.Replace(string(raw), "listen: 127.0.0.1:8931", "listen: "+addr, 1)
	if err := os.WriteFile(w.fleet, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// run runs the upgrade with inputs, on the embedded default with the simulated fleet.
func (w *webCluster) run(t *testing.T, inputs ...string) (result, *protocol.Report) {
	t.Helper()
	// A relative data directory, as README.md's command has (the default ./.fleetbook).
	args := []string{"run", w.book, "--embedded", "--data-dir", filepath.Base(w.data), "--fleet", w.fleet, "--agents-dir", w.agents, "--json",
		"-i", "webhook_url=" + w.url + "/hooks/deploy", "-i", "chat_api_url=" + w.url + "/api"}
	for _, in := range inputs {
		args = append(args, "-i", in)
	}
	r := cli(t, w.dir, args...)
	var rep protocol.Report
	decodeOne(t, r.stdout, &rep)
	return r, &rep
}

// state reads a node's agent state file, "" if absent.
func (w *webCluster) state(identity, file string) string {
	b, err := os.ReadFile(filepath.Join(w.data, "nodes", identity, file))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// received returns every call the fleet's receiver recorded, oldest first.
func (w *webCluster) received(t *testing.T) []agent.ReceivedCall {
	t.Helper()
	calls, err := agent.ReadReceived(filepath.Join(w.data, "nodes", agent.ReceiverFile))
	if err != nil {
		t.Fatalf("receiver recorded nothing: %v", err)
	}
	return calls
}

func task(t *testing.T, rep *protocol.Report, list, desc string) protocol.TaskReport {
	t.Helper()
	for _, tr := range rep.Tasks {
		if tr.List == list && strings.HasPrefix(tr.Description, desc) {
			return tr
		}
	}
	t.Fatalf("report has no %s task %q: %+v", list, desc, rep.Tasks)
	return protocol.TaskReport{}
}

var webTiers = map[string][]string{
	"alfa":  {"web-alfa1.example.net", "web-alfa2.example.net", "web-alfa3.example.net"},
	"bravo": {"web-bravo1.example.net", "web-bravo2.example.net", "web-bravo3.example.net"},
}

// The README's first command: the upgrade of tier alfa succeeds, the report shows the revision
// now deployed on every web server, the nodes' state shows the upgrade, puppet enabled and the
// servers back in haproxy, and the receiver got the success webhook and chat message.
func TestWebClusterExample_Succeeds(t *testing.T) {
	t.Parallel()
	w := newWebCluster(t)
	r, rep := w.run(t, "tier=alfa", "revision=1.2.3")
	if r.code != 0 || rep.Status != protocol.StatusSuccess {
		t.Fatalf("exit %d, status %s (%s); stderr:\n%s", r.code, rep.Status, rep.Error, r.stderr)
	}
	if !strings.Contains(r.stderr, "3/3 nodes answered") {
		t.Errorf("no live per-node progress on stderr:\n%s", r.stderr)
	}
	status := task(t, rep, "tasks", "Show the app status")
	for _, id := range webTiers["alfa"] {
		n, ok := status.Nodes[id]
		data, _ := n.Data.(map[string]any)
		if !ok || !n.Success || data["revision"] != "1.2.3" {
			t.Errorf("app status of %s: %+v, want revision 1.2.3", id, n)
		}
		if got := w.state(id, "appmgr/revision"); got != "1.2.3" {
			t.Errorf("%s deploys %q, want 1.2.3", id, got)
		}
		if _, err := os.Stat(filepath.Join(w.data, "nodes", id, "puppet", "disabled")); !os.IsNotExist(err) {
			t.Errorf("%s: puppet is still disabled (%v)", id, err)
		}
		if got := w.state("haproxy1.example.net", "haproxy/alfa/"+id); got != "UP" {
			t.Errorf("haproxy backend alfa server %s is %q, want UP", id, got)
		}
	}
	for _, id := range webTiers["bravo"] {
		if got := w.state(id, "appmgr/revision"); got != "" {
			t.Errorf("tier bravo was touched: %s deploys %q", id, got)
		}
	}
	if got := task(t, rep, "tasks", "Log the deployment").Msg; !strings.Contains(got, "Deployed revision 1.2.3 to tier alfa") {
		t.Errorf("log line %q", got)
	}

	calls := w.received(t)
	if len(calls) != 2 {
		t.Fatalf("receiver got %d calls, want the success webhook and chat message: %+v", len(calls), calls)
	}
	hook, _ := calls[0].Body.(map[string]any)
	if calls[0].Kind != "webhook" || hook["event"] != "upgrade_succeeded" || hook["revision"] != "1.2.3" {
		t.Errorf("webhook call %+v", calls[0])
	}
	if chat := fmt.Sprint(calls[1].Body); calls[1].Kind != "chat" || !strings.Contains(chat, "Upgraded tier *alfa* to 1.2.3") {
		t.Errorf("chat call %+v", calls[1])
	}
}

// The failure path: with the NRPE check kept red, the run fails after its 10 tries, on_fail
// calls the webhook and chat, and the deploy_failure_handler child run succeeds and hands the
// tier back to puppet and haproxy.
func TestWebClusterExample_RedCheckRunsFailureHandler(t *testing.T) {
	t.Parallel()
	w := newWebCluster(t)
	r, rep := w.run(t, "tier=bravo", "revision=2.0.1", "load_critical=0")
	if r.code != 1 || rep.Status != protocol.StatusFailed {
		t.Fatalf("exit %d, status %s; want 1, failed; stderr:\n%s", r.code, rep.Status, r.stderr)
	}
	check := task(t, rep, "tasks", "Check the load")
	if check.Success || check.Tries != 10 {
		t.Errorf("load check: success %v after %d tries, want a failure after 10", check.Success, check.Tries)
	}
	for _, desc := range []string{"Tell the deploy tracker about the failure", "Tell the ops room about the failure"} {
		if tr := task(t, rep, "on_fail", desc); !tr.Success {
			t.Errorf("on_fail %q failed: %s", desc, tr.Msg)
		}
	}
	handler := task(t, rep, "on_fail", "Run the failure handler")
	if !handler.Success || handler.Child == "" {
		t.Fatalf("failure handler task %+v", handler)
	}
	shown := cli(t, w.dir, "runs", "show", handler.Child, "--json", "--embedded", "--data-dir", w.data)
	var child protocol.Report
	decodeOne(t, shown.stdout, &child)
	if child.Status != protocol.StatusSuccess || child.Playbook.Name != "deploy_failure_handler" ||
		child.Inputs["tier"] != "bravo" || child.Inputs["revision"] != "2.0.1" {
		t.Errorf("child run %s: %s %s with inputs %v (%s)", handler.Child, child.Playbook.Name, child.Status, child.Inputs, child.Error)
	}
	for _, id := range webTiers["bravo"] {
		if _, err := os.Stat(filepath.Join(w.data, "nodes", id, "puppet", "disabled")); !os.IsNotExist(err) {
			t.Errorf("%s: the handler left puppet disabled (%v)", id, err)
		}
		if got := w.state("haproxy1.example.net", "haproxy/bravo/"+id); got != "UP" {
			t.Errorf("haproxy backend bravo server %s is %q, want UP after the handler", id, got)
		}
	}

	calls := w.received(t)
	if len(calls) != 2 {
		t.Fatalf("receiver got %d calls, want the failure webhook and chat message: %+v", len(calls), calls)
	}
	hook, _ := calls[0].Body.(map[string]any)
	if calls[0].Kind != "webhook" || hook["event"] != "upgrade_failed" || !strings.Contains(fmt.Sprint(hook["error"]), "3 failed") {
		t.Errorf("webhook call %+v", calls[0])
	}
	if chat := fmt.Sprint(calls[1].Body); calls[1].Kind != "chat" || !strings.Contains(chat, "failed") || !strings.Contains(chat, "danger") {
		t.Errorf("chat call %+v", calls[1])
	}
}

// A receiver port already in use stops the run before anything is submitted, naming the address.
func TestRunFleetReceiverPortTaken(t *testing.T) {
	t.Parallel()
	w := newWebCluster(t)
	taken, err := net.Listen("tcp", strings.TrimPrefix(w.url, "http://"))
	if err != nil {
		t.Skipf("the free port was taken meanwhile: %v", err)
	}
	defer taken.Close()
	r := cli(t, w.dir, "run", w.book, "--embedded", "--data-dir", "state", "--fleet", w.fleet, "--agents-dir", w.agents,
		"-i", "tier=alfa", "-i", "revision=1.2.3")
	addr := strings.TrimPrefix(w.url, "http://")
	if r.code != exitInfra || !strings.Contains(r.stderr, "receiver cannot listen on "+addr) {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit %d naming %s", r.code, r.stderr, exitInfra, addr)
	}
	if out := cli(t, w.dir, "runs", "list", "--json", "--embedded", "--data-dir", "state"); strings.Contains(out.stdout, "web_cluster_upgrade") {
		t.Errorf("a run was submitted:\n%s", out.stdout)
	}
}

// The example is safe to run twice at once: two upgrades of one tier submitted together to
// `fleetbook up` with the simulated cluster both succeed, one after the other: the second waits
// for the upgrade lock, and their tasks never overlap.
func TestWebClusterExample_ConcurrentRunsTakeTurns(t *testing.T) {
	t.Parallel()
	w := newWebCluster(t)
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	start(t, "up", "up", "--data-dir", w.data, "--listen", listen, "--fleet", w.fleet, "--agents-dir", w.agents)
	server := []string{"--context", filepath.Join(w.data, "auth", "context.json")}
	natstest.Eventually(t, 60*time.Second, func() error {
		if r := cli(t, w.dir, append([]string{"runs", "list"}, server...)...); r.code != exitOK {
			return fmt.Errorf("up not answering: exit %d: %s", r.code, r.stderr)
		}
		return nil
	})
	var ids []string
	for _, rev := range []string{"1.2.3", "1.2.4"} {
		args := append([]string{"run", w.book, "--detach", "-i", "tier=alfa", "-i", "revision=" + rev,
			"-i", "webhook_url=" + w.url + "/hooks/deploy", "-i", "chat_api_url=" + w.url + "/api"}, server...)
		r := cli(t, w.dir, args...)
		if r.code != exitOK {
			t.Fatalf("run --detach: exit %d: %s", r.code, r.stderr)
		}
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	reps := make([]protocol.Report, 2)
	for i, id := range ids {
		natstest.Eventually(t, 5*time.Minute, func() error {
			r := cli(t, w.dir, append([]string{"runs", "show", id, "--json"}, server...)...)
			reps[i] = protocol.Report{}
			if err := json.Unmarshal([]byte(r.stdout), &reps[i]); err != nil || !reps[i].Status.Final() {
				return fmt.Errorf("run %s not ended: %s", id, r.stderr)
			}
			return nil
		})
		if reps[i].Status != protocol.StatusSuccess || len(reps[i].Tasks) == 0 {
			t.Fatalf("run %s: %s (%s), want success", id, reps[i].Status, reps[i].Error)
		}
	}
	span := func(r protocol.Report) (time.Time, time.Time) {
		return r.Tasks[0].StartedAt, r.Tasks[len(r.Tasks)-1].EndedAt
	}
	a0, a1 := span(reps[0])
	b0, b1 := span(reps[1])
	if a0.Before(b1) && b0.Before(a1) {
		t.Errorf("the two upgrades overlapped: %s–%s and %s–%s", a0, a1, b0, b1)
	}
}
