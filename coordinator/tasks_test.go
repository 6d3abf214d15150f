package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/protocol"
)

// rpcAnswer answers rpc jobs node by node: nodes named in down fail, the rest succeed.
func rpcAnswer(down ...string) func(*protocol.Job) protocol.Result {
	return func(job *protocol.Job) protocol.Result {
		if job.Type != protocol.TaskRPC {
			return protocol.Result{Success: true, Msg: "ok"}
		}
		res := protocol.Result{Success: true, Nodes: map[string]protocol.NodeResult{}}
		for _, n := range job.Targets {
			ok := true
			for _, d := range down {
				ok = ok && d != n
			}
			res.Nodes[n] = protocol.NodeResult{Success: ok, Msg: map[bool]string{true: "OK", false: "no reply"}[ok]}
			res.Success = res.Success && ok
		}
		return res
	}
}

func nodeList(n int) string {
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("n%02d", i))
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func TestRPCBatches(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1", WithRPCChunk(4))
	w := e.startTestWorker(rpcAnswer("n03", "n07"))

	for _, tc := range []struct {
		name                  string
		props                 string
		status                protocol.RunStatus
		batches, sent, failed int
		wantMsg               string
	}{
		{"chunks in parallel, any failure fails", "", protocol.StatusFailed, 3, 10, 2, "8/10 nodes ok, 2 failed"},
		{"sequential batches", "batch_size: 5\n      batch_sleep_time: 0", protocol.StatusFailed, 2, 10, 2, "8/10 nodes ok"},
		{"failures within max_fail_percentage", "max_fail_percentage: 20", protocol.StatusSuccess, 3, 10, 2, "within max_fail_percentage 20"},
		{"stops over max_fail_percentage", "batch_size: 2\n      max_fail_percentage: 10", protocol.StatusFailed, 2, 4, 1, "stopped after 4 of 10 nodes: 1 failed (25%)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.executions())
			doc := header + "tasks:\n  - rpc:\n      action: rpcutil.ping\n      nodes: " + nodeList(10) + "\n"
			if tc.props != "" {
				doc += "      " + tc.props + "\n"
			}
			r := e.waitFinal(e.submit(doc, nil), 20*time.Second)
			if r.Status != tc.status {
				t.Fatalf("status %s, want %s: %s", r.Status, tc.status, r.Error)
			}
			task := r.Tasks[0]
			if jobs := len(w.executions()) - before; jobs != tc.batches {
				t.Errorf("%d jobs, want %d", jobs, tc.batches)
			}
			if len(task.Nodes) != tc.sent {
				t.Errorf("%d nodes in the report, want %d: %v", len(task.Nodes), tc.sent, task.Nodes)
			}
			failed := 0
			for _, nr := range task.Nodes {
				if !nr.Success {
					failed++
				}
			}
			if failed != tc.failed || !strings.Contains(task.Msg, tc.wantMsg) {
				t.Errorf("%d failed, msg %q; want %d and %q", failed, task.Msg, tc.failed, tc.wantMsg)
			}
		})
	}
}

func TestRPCTargetsFromTemplates(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	var mu sync.Mutex
	var got []string
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		mu.Lock()
		got = append(got, job.Targets...)
		mu.Unlock()
		return rpcAnswer()(job)
	})
	doc := header + "inputs:\n  hosts:\n    type: Array\n    description: hosts\n" +
		"tasks:\n  - rpc:\n      action: puppet.disable\n      nodes: \"{{{ inputs.hosts }}}\"\n      properties:\n        message: \"by {{{ inputs.hosts }}}\"\n"
	r := e.waitFinal(e.submit(doc, map[string]any{"hosts": []any{"a", "b"}}), 10*time.Second)
	if r.Status != protocol.StatusSuccess || strings.Join(got, ",") != "a,b" {
		t.Fatalf("status %s targets %v: %s", r.Status, got, r.Error)
	}
}

func TestLogTaskAndChildPlaybook(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(byCommand)
	child := header + "inputs:\n  tier:\n    type: String\n    description: tier\ntasks:\n" + shell("child {{{ inputs.tier }}}")
	failing := header + "tasks:\n" + shell("fail child")
	parent := header + "inputs:\n  tier:\n    type: String\n    description: tier\n  other:\n    type: String\n    description: other\n" +
		"tasks:\n  - log:\n      message: \"upgrading {{{ inputs.tier }}}\"\n" +
		"  - playbook:\n      file: child.yaml\n      inherit_inputs: true\n" +
		"  - playbook:\n      file: failing.yaml\n      fail_ok: true\n"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.client.Submit(ctx, protocol.SubmitRequest{
		Playbook: parent, Inputs: map[string]any{"tier": "alfa", "other": "x"}, IdempotencyKey: "p",
		Files: map[string]string{"child.yaml": child, "failing.yaml": failing},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := e.waitFinal(resp.RunID, 20*time.Second)
	if r.Status != protocol.StatusSuccess || len(r.Tasks) != 3 {
		t.Fatalf("status %s tasks %d: %s", r.Status, len(r.Tasks), r.Error)
	}
	if r.Tasks[0].Type != "log" || r.Tasks[0].Msg != "upgrading alfa" {
		t.Errorf("log task: %+v", r.Tasks[0])
	}
	data, _ := r.Tasks[1].Data.(map[string]any)
	childID, _ := data["run_id"].(string)
	if !r.Tasks[1].Success || childID == "" {
		t.Fatalf("child task: %+v", r.Tasks[1])
	}
	cr, err := e.client.Get(ctx, childID)
	if err != nil {
		t.Fatal(err)
	}
	if cr.Status != protocol.StatusSuccess || cr.Inputs["tier"] != "alfa" || cr.Inputs["other"] != nil {
		t.Errorf("child run %s inputs %v", cr.Status, cr.Inputs)
	}
	if out, _ := cr.Tasks[0].Data.(string); out != "child ${FB_INPUTS_TIER}" && !strings.Contains(out, "child") {
		t.Errorf("child task output %q", out)
	}
	if !strings.Contains(r.Tasks[2].Msg, "failed") || !r.Tasks[2].Success {
		t.Errorf("failing child with fail_ok: %+v", r.Tasks[2])
	}
}

func TestDiscoveryFeedsTasksAndFailureRunsHooks(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	var mu sync.Mutex
	var targets []string
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		switch job.Type {
		case protocol.TaskDiscover:
			if job.Discover.Properties["group"] == "none" {
				return protocol.Result{Success: true, Data: []any{}}
			}
			return protocol.Result{Success: true, Data: []any{"w1", "w2", "w1", "w3"}}
		case protocol.TaskRPC:
			mu.Lock()
			targets = append(targets, job.Targets...)
			mu.Unlock()
			return rpcAnswer()(job)
		}
		return byCommand(job)
	})
	nodes := func(group, extra string) string {
		return "nodes:\n  web:\n    type: yaml\n    source: fleet.yaml\n    group: " + group + "\n    limit: 2\n" + extra
	}
	doc := header + nodes("web", "") + "tasks:\n  - rpc:\n      action: puppet.disable\n      nodes: \"{{{ nodes.web }}}\"\n"
	r := e.waitFinal(e.submit(doc, nil), 10*time.Second)
	if r.Status != protocol.StatusSuccess || strings.Join(r.Nodes["web"], ",") != "w1,w2" || strings.Join(targets, ",") != "w1,w2" {
		t.Fatalf("status %s nodes %v targets %v: %s", r.Status, r.Nodes, targets, r.Error)
	}
	if len(r.Tasks) != 1 {
		t.Errorf("discovery must not show as a task: %+v", r.Tasks)
	}

	doc = header + nodes("none", "    when_empty: \"no web servers in {{{ metadata.name }}}\"\n") +
		"tasks:\n" + shell("never") + "hooks:\n  on_fail:\n" + shell("cleanup") + "  post_book:\n" + shell("end")
	r = e.waitFinal(e.submit(doc, nil), 10*time.Second)
	if r.Status != protocol.StatusFailed || !strings.Contains(r.Error, "no web servers in flow") {
		t.Fatalf("status %s: %s", r.Status, r.Error)
	}
	if got := trace(r); got != "on_fail:true:cleanup post_book:true:end" {
		t.Errorf("tasks after a failed discovery: %s", got)
	}
}

// Two runs of a playbook that locks on the kv store run one after the other: the second waits
// for the first to release the lock.
func TestLockedRunsTakeTurns(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	var mu sync.Mutex
	var trail []string
	release := make(chan struct{})
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		mu.Lock()
		trail = append(trail, job.Shell.Command)
		mu.Unlock()
		if job.Shell.Command == "first" {
			<-release
		}
		return succeed(job)
	})
	doc := func(cmd string) string {
		return header + "data_stores:\n  shared:\n    type: kv\n    timeout: 30\nlocks:\n  - shared\ntasks:\n" + shell(cmd)
	}
	first := e.submit(doc("first"), nil)
	natstest.Eventually(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(trail) == 0 {
			return errNotYet
		}
		return nil
	})
	second := e.submit(doc("second"), nil)
	time.Sleep(300 * time.Millisecond) // give the second run the chance to (wrongly) start
	mu.Lock()
	if len(trail) != 1 {
		t.Errorf("the second run ran while the first held the lock: %v", trail)
	}
	mu.Unlock()
	close(release)
	for _, id := range []string{first, second} {
		if r := e.waitFinal(id, 20*time.Second); r.Status != protocol.StatusSuccess {
			t.Fatalf("run %s: %s %s", id, r.Status, r.Error)
		}
	}
	if strings.Join(trail, ",") != "first,second" {
		t.Errorf("order %v", trail)
	}
}

// A lock key templated with an input: runs for different values hold different locks, runs for
// the same value take turns.
func TestLockKeysNameTheInputs(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(succeed)
	ctx := context.Background()
	// Someone else holds tier a's lock.
	locker, err := datastore.OpenLocker(ctx, e.js, protocol.StoreSpec{Name: "shared", Type: "kv"}, "someone-else")
	if err != nil {
		t.Fatal(err)
	}
	held, err := locker.Lock(ctx, "upgrade-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	doc := header + "inputs:\n  tier:\n    type: String\n    description: tier\n" +
		"data_stores:\n  shared:\n    type: kv\n    timeout: 60\nlocks:\n  - \"shared/upgrade-{{{ inputs.tier }}}\"\ntasks:\n" +
		shell("echo {{ inputs.tier }}")
	a := e.submit(doc, map[string]any{"tier": "a"})
	// Tier b's lock is free: its run ends while tier a's waits for its own.
	if r := e.waitFinal(e.submit(doc, map[string]any{"tier": "b"}), 20*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("run of tier b: %s %s", r.Status, r.Error)
	}
	if r, err := e.client.Get(ctx, a); err != nil || r.Status.Final() || len(r.Tasks) > 0 {
		t.Fatalf("the run of tier a went on while its lock was held: %+v %v", r, err)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if r := e.waitFinal(a, 30*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("run of tier a: %s %s", r.Status, r.Error)
	}
}

func TestLockOnStoreThatCannotLockIsRefused(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	doc := header + "data_stores:\n  mem:\n    type: memory\nlocks:\n  - mem\ntasks:\n" + shell("x")
	_, err := e.client.Submit(context.Background(), protocol.SubmitRequest{Playbook: doc, IdempotencyKey: "k"})
	if err == nil || !strings.Contains(err.Error(), "lock") {
		t.Fatalf("want a refusal about the lock, got %v", err)
	}
}

func TestRegisterAndStoreInputs(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		return protocol.Result{Success: true, Msg: "ok", Data: job.Shell.Environment}
	})
	kv, err := e.js.KeyValue(context.Background(), protocol.DataBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "tier", []byte(`"bravo"`)); err != nil {
		t.Fatal(err)
	}
	doc := header + "data_stores:\n  ds:\n    type: kv\n" +
		"inputs:\n  tier:\n    type: String\n    description: t\n    data: ds/tier\n" +
		"  rev:\n    type: String\n    description: r\n    data: ds/rev\n    save: true\n" +
		"tasks:\n  - shell:\n      command: \"echo {{{ inputs.tier }}}\"\n      register: first\n" +
		"  - log:\n      message: \"first said {{{ tasks.first.msg }}} for {{{ inputs.tier }}} at {{{ inputs.rev }}}\"\n"
	r := e.waitFinal(e.submit(doc, map[string]any{"rev": "1.2.3"}), 10*time.Second)
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("%s: %s", r.Status, r.Error)
	}
	if got := r.Tasks[1].Msg; got != "first said ok for bravo at 1.2.3" {
		t.Errorf("log line %q", got)
	}
	saved, err := kv.Get(context.Background(), "rev")
	if err != nil || string(saved.Value()) != `"1.2.3"` {
		t.Errorf("saved input: %v %s", err, saved.Value())
	}
}

func TestRPCSummarize(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1", WithRPCChunk(3))
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		res := protocol.Result{Success: true, Nodes: map[string]protocol.NodeResult{}}
		for _, n := range job.Targets {
			version := "1.0"
			if n == "n04" {
				version = "0.9"
			}
			res.Nodes[n] = protocol.NodeResult{Success: true, Data: map[string]any{"version": version, "running": true}}
		}
		return res
	})
	doc := header + "tasks:\n  - rpc:\n      action: appmgr.status\n      nodes: " + nodeList(7) + "\n      post: [summarize]\n"
	r := e.waitFinal(e.submit(doc, nil), 10*time.Second)
	data, _ := r.Tasks[0].Data.(map[string]any)
	summary, _ := json.Marshal(data["summary"])
	if r.Status != protocol.StatusSuccess || string(summary) != `{"running":{"true":7},"version":{"0.9":1,"1.0":6}}` {
		t.Fatalf("%s: summary %s (%s)", r.Status, summary, r.Error)
	}
}

// A data-bound input is read again before every task, and an invalid store value falls back to
// the input's default.
func TestStoreInputsAreReadBeforeEveryTask(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	kv, err := e.js.KeyValue(context.Background(), protocol.DataBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "level", []byte(`"bogus"`)); err != nil {
		t.Fatal(err)
	}
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if _, err := kv.Put(context.Background(), "level", []byte(`"high"`)); err != nil {
			t.Error(err)
		}
		return succeed(job)
	})
	doc := header + "data_stores:\n  ds:\n    type: kv\n" +
		"inputs:\n  level:\n    type: String\n    description: l\n    data: ds/level\n    default: low\n    validation: [low, high]\n" +
		"tasks:\n  - log:\n      message: \"{{{ inputs.level }}}\"\n" + shell("raise") +
		"  - log:\n      message: \"{{{ inputs.level }}}\"\n"
	r := e.waitFinal(e.submit(doc, nil), 10*time.Second)
	if r.Status != protocol.StatusSuccess || r.Tasks[0].Msg != "low" || r.Tasks[2].Msg != "high" {
		t.Fatalf("%s %s: %+v", r.Status, r.Error, r.Tasks)
	}
}
