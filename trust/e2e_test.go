package trust_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/fleettest"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// wait bounds every wait: generous, since the machine is shared.
const wait = 2 * time.Minute

// background runs fn until the test ends, or until the returned stop is called.
func background(t *testing.T, name string, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fn(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// has reports whether a line of buf contains every one of words.
func has(buf *natstest.LogBuffer, words ...string) bool { return len(buf.Lines(words...)) > 0 }

func startWorker(t *testing.T, url, name string) (stop func()) {
	t.Helper()
	nc, _ := natstest.Connect(t, url)
	w, err := worker.New(nc, worker.WithName(name))
	if err != nil {
		t.Fatal(err)
	}
	return background(t, name, w.Run)
}

func waitFinal(t *testing.T, client *coordinator.Client, id string) *protocol.Report {
	t.Helper()
	var r *protocol.Report
	natstest.Eventually(t, wait, func() error {
		var err error
		if r, err = client.Get(context.Background(), id); err != nil {
			return err
		}
		if !r.Status.Final() {
			return errors.New("run status " + string(r.Status))
		}
		return nil
	})
	return r
}

// TestEndToEnd_SignedRPCAndBoundResults runs a coordinator with a signer, a worker and agents
// that trust only that coordinator: a discovered, pinged rpc step to three nodes succeeds. Then,
// with no worker running, a forged success result is published for the next run's failing rpc
// job: the coordinator refuses and logs it, and once a worker runs the job the step ends failed.
func TestEndToEnd_SignedRPCAndBoundResults(t *testing.T) {
	srv := natstest.RunServer(t)
	url := srv.ClientURL()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()

	clog := &natstest.LogBuffer{}
	cnc, _ := natstest.Connect(t, url)
	c, err := coordinator.New(cnc, coordinator.WithName("c1"), coordinator.WithSigner(kp),
		coordinator.WithLogger(slog.New(slog.NewTextHandler(clog, nil))))
	if err != nil {
		t.Fatal(err)
	}
	background(t, "coordinator", c.Run)

	nodes := []agent.Node{{Identity: "web1.test"}, {Identity: "web2.test"}, {Identity: "web3.test"}}
	state := t.TempDir()
	alog := &natstest.LogBuffer{}
	anc, _ := natstest.Connect(t, url)
	ag, err := agent.New(anc, nodes, agent.WithoutRegistration(), agent.WithTrustedSigners(pub),
		agent.WithAgentsDir(filepath.Join("..", "examples", "web-cluster", "agents")), agent.WithStateDir(state),
		agent.WithLogger(slog.New(slog.NewTextHandler(alog, nil))))
	if err != nil {
		t.Fatal(err)
	}
	background(t, "agents", ag.Run)
	select {
	case <-ag.Ready():
	case <-time.After(wait):
		t.Fatal("agents not ready")
	}

	fleet := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(fleet, []byte("web: [web1.test, web2.test, web3.test]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	book := func(revision string) string {
		return "name: signed\nversion: 1.0.0\nauthor: tests\ndescription: signed rpc\n" +
			"nodes:\n  web:\n    type: yaml\n    source: " + fleet + "\n    group: web\n    test: true\n" +
			"tasks:\n  - rpc:\n      action: appmgr.upgrade\n      nodes: \"{{{ nodes.web }}}\"\n" +
			"      properties:\n        revision: \"" + revision + "\"\n"
	}
	knc, _ := natstest.Connect(t, url)
	client, err := coordinator.NewClient(knc)
	if err != nil {
		t.Fatal(err)
	}
	submit := func(doc string) string {
		t.Helper()
		resp, err := client.Submit(context.Background(), protocol.SubmitRequest{Playbook: doc, IdempotencyKey: doc + time.Now().String()})
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		return resp.RunID
	}

	// The worker needs the streams the coordinator provisions: wait until it answers its API.
	natstest.Eventually(t, wait, func() error {
		_, err := client.List(context.Background(), 1)
		return err
	})
	stopWorker := startWorker(t, url, "w1")
	r := waitFinal(t, client, submit(book("2.0.0")))
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("signed run: %s %s %+v", r.Status, r.Error, r.Tasks)
	}
	for _, n := range nodes {
		b, err := os.ReadFile(filepath.Join(state, n.Identity, "appmgr", "upgrades"))
		if err != nil || strings.TrimSpace(string(b)) != "1" {
			t.Fatalf("%s upgrades %q (%v), want 1", n.Identity, b, err)
		}
	}
	if has(alog, "refused request") {
		t.Fatal("the agents refused a request of the signed run")
	}

	// The next run's step fails on every node: its revision breaks the action's validation. Its
	// nodes are listed, so its first job is the rpc job; no worker runs it yet, so the forged
	// result comes first.
	stopWorker()
	failing := "name: signed\nversion: 1.0.0\nauthor: tests\ndescription: signed rpc\n" +
		"tasks:\n  - rpc:\n      action: appmgr.upgrade\n      nodes: [web1.test, web2.test, web3.test]\n" +
		"      properties:\n        revision: \"not a revision!\"\n"
	runID := submit(failing)
	rpcJob := protocol.JobID{RunID: runID, Step: 1, Attempt: 1}
	_, js := natstest.Connect(t, url)
	jobs, err := js.Stream(context.Background(), protocol.JobsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	var published protocol.Job
	natstest.Eventually(t, wait, func() error {
		m, err := jobs.GetLastMsgForSubject(context.Background(), protocol.JobSubject(protocol.DefaultPool, rpcJob))
		if err != nil {
			return err
		}
		return json.Unmarshal(m.Data, &published)
	})
	if published.Grant == nil || published.ResultToken == "" {
		t.Fatalf("published rpc job is not signed: grant %v token %q", published.Grant, published.ResultToken)
	}
	// The run record, readable beyond the workers, keeps the job without its token or grant.
	rec := fleettest.RunRecord(t, url, runID)
	if len(rec.Steps) != 1 || rec.Steps[0].Job == nil {
		t.Fatalf("run record steps %+v, want the rpc step in flight", rec.Steps)
	}
	if j := rec.Steps[0].Job; j.ResultToken != "" || j.Grant != nil {
		t.Fatalf("the run record holds the job's token %q or grant %v", j.ResultToken, j.Grant)
	}
	// Anyone with publish rights on results: correct subject, success, no token; then one with
	// the token of another job.
	other := rpcJob
	other.Attempt = 2
	for _, token := range []string{"", "stolen-" + other.String()} {
		forged, _ := json.Marshal(protocol.Result{Version: protocol.JobVersion, ID: rpcJob, Worker: "impostor", Success: true,
			Msg: "all good", Token: token, Nodes: map[string]protocol.NodeResult{"web1.test": {Success: true}}})
		if err := knc.Publish(protocol.ResultSubject(rpcJob), forged); err != nil {
			t.Fatal(err)
		}
	}
	natstest.Eventually(t, wait, func() error {
		if !has(clog, "refused result", "job="+rpcJob.String(), "worker=impostor", "reason=") {
			return errors.New("no log line names the refused result")
		}
		return nil
	})
	if r, err := client.Get(context.Background(), runID); err != nil || r.Status.Final() {
		t.Fatalf("the run ended on a forged result: %v %+v", err, r)
	}

	// A worker now runs the job (the forged result stored in the stream does not make it skip
	// the job) and its real, failed result is applied.
	startWorker(t, url, "w2")
	r = waitFinal(t, client, runID)
	if r.Status != protocol.StatusFailed || len(r.Tasks) != 1 || r.Tasks[0].Success || !strings.Contains(r.Tasks[0].Msg, "0/3 nodes ok") {
		t.Fatalf("want the real failed result applied: %s %+v", r.Status, r.Tasks)
	}
	for _, n := range nodes {
		b, _ := os.ReadFile(filepath.Join(state, n.Identity, "appmgr", "upgrades"))
		if strings.TrimSpace(string(b)) != "1" {
			t.Fatalf("%s upgrades %q, want still 1", n.Identity, b)
		}
	}
}
