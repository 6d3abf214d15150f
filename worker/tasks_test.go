package worker

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// Tests of task types run through a whole Worker: the worker's connection and options reach the
// executors (worker/task), and every result is stored and its job acknowledged.

// httpCall is what a test's HTTP server saw of one request.
type httpCall struct{ requestID, body string }

// answerHTTP starts an HTTP server that answers every request with 200 and body, and sends what
// it saw of each to calls (when not nil); it returns the server's URL.
func answerHTTP(t *testing.T, body string, calls chan<- httpCall) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if calls != nil {
			calls <- httpCall{r.Header.Get(protocol.HTTPRequestIDHeader), string(b)}
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// discoverableFleet registers two nodes in the node registry: web1, in the uk with class apache
// and agent puppet 2.1.0, whose agent answers pings; and web2, in de, with no agent listening.
func discoverableFleet(t *testing.T, nc *nats.Conn, js jetstream.JetStream) {
	t.Helper()
	reg, err := kvstore.OpenNodes(t.Context(), js, kvstore.Config{})
	if err != nil {
		t.Fatalf("open registry: %v", err)
	}
	for _, n := range []protocol.NodeInfo{
		{Identity: "web1.uk.example.net", Facts: map[string]any{"country": "uk"}, Classes: []string{"apache"},
			Agents: []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}, {Name: "puppet", Version: "2.1.0"}}},
		{Identity: "web2.de.example.net", Facts: map[string]any{"country": "de"}, Classes: []string{"nginx"},
			Agents: []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}}},
	} {
		if err := reg.Register(t.Context(), n); err != nil {
			t.Fatalf("register %s: %v", n.Identity, err)
		}
	}
	sub, err := nc.Subscribe(protocol.NodeRPCSubject("web1.uk.example.net"), func(m *nats.Msg) {
		var req protocol.RPCRequest
		_ = json.Unmarshal(m.Data, &req)
		data, _ := json.Marshal(protocol.RPCReply{Version: 1, RequestID: req.RequestID, Identity: "web1.uk.example.net", Success: true})
		_ = m.Respond(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoverJobOnWorker(t *testing.T) {
	nc, js := setup(t)
	discoverableFleet(t, nc, js)
	start(t, newWorker(t, nc, WithName("w1")))

	ok := protocol.Job{
		Version: protocol.JobVersion, ID: protocol.JobID{RunID: "r1", Step: 1, Attempt: 1}, Type: protocol.TaskDiscover,
		Timeout: 5 * time.Second,
		Discover: &protocol.DiscoverSpec{Name: "web", Type: "mcollective", Test: true, Uses: map[string]string{"puppet": "~2.1"},
			Properties: map[string]any{"classes": []any{"apache"}}},
	}
	publishJob(t, js, ok)
	res := waitResult(t, js, ok.ID)
	if !res.Success || res.Worker != "w1" || res.Msg != "node set web: discovered 1 nodes" {
		t.Fatalf("result: %+v", res)
	}
	if got, _ := res.Data.([]any); len(got) != 1 || got[0] != "web1.uk.example.net" {
		t.Fatalf("data %#v, want [web1.uk.example.net]", res.Data)
	}

	bad := ok
	bad.ID.Step = 2
	bad.Discover = &protocol.DiscoverSpec{Name: "de", Type: "fleet", Test: true, Properties: map[string]any{"facts": []any{"country=de"}}}
	bad.Timeout = time.Second
	publishJob(t, js, bad)
	res = waitResult(t, js, bad.ID)
	if res.Success || !strings.HasPrefix(res.Msg, "node set de: connectivity test failed for 1 of 1 nodes: web2.de.example.net (no node agent is listening)") {
		t.Fatalf("result: %+v", res)
	}

	none := ok
	none.ID.Step = 3
	none.Discover = nil
	publishJob(t, js, none)
	if res = waitResult(t, js, none.ID); res.Success || res.Msg != "discover job has no discover spec" {
		t.Fatalf("result: %+v", res)
	}
	waitJobsEmpty(t, js)
}

// dataJob is a data job of run at step on store.
func dataJob(run string, step int, store protocol.StoreSpec, op protocol.DataOp) protocol.Job {
	return protocol.Job{
		Version:  protocol.JobVersion,
		ID:       protocol.JobID{RunID: run, Step: step, Attempt: 1},
		Type:     protocol.TaskData,
		Playbook: "test_book",
		Store:    &store,
		Data:     &op,
	}
}

func TestDataJobsShareKVBetweenRuns(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc))
	kv := protocol.StoreSpec{Name: "team", Type: "kv"}
	value := map[string]any{"colour": "green", "n": float64(2)}

	write := dataJob("run1", 1, kv, protocol.DataOp{Action: "write", Key: "app/active", Value: value})
	publishJob(t, js, write)
	if res := waitResult(t, js, write.ID); !res.Success || res.Msg != "Wrote value to team/app/active" {
		t.Fatalf("write: %+v", res)
	}
	// Another run, possibly on another worker, reads what the first wrote.
	read := dataJob("run2", 1, kv, protocol.DataOp{Action: "read", Key: "app/active"})
	publishJob(t, js, read)
	res := waitResult(t, js, read.ID)
	if !res.Success || !reflect.DeepEqual(res.Data, value) || res.ExitCode != 0 {
		t.Fatalf("read: %+v", res)
	}
	del := dataJob("run2", 2, kv, protocol.DataOp{Action: "delete", Key: "app/active"})
	publishJob(t, js, del)
	if res := waitResult(t, js, del.ID); !res.Success || res.Msg != "Deleted data item team/app/active" {
		t.Fatalf("delete: %+v", res)
	}
	again := dataJob("run1", 2, kv, protocol.DataOp{Action: "read", Key: "app/active"})
	publishJob(t, js, again)
	if res := waitResult(t, js, again.ID); res.Success || !strings.Contains(res.Msg, "could not read key team/app/active: not found") {
		t.Fatalf("read after delete: %+v", res)
	}
	waitJobsEmpty(t, js)
}

func TestDataJobFailures(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc))
	file := protocol.StoreSpec{Name: "prefs", Type: "file", Properties: map[string]any{"file": filepath.Join(t.TempDir(), "p.json"), "create": true}}
	for i, tc := range []struct {
		job  protocol.Job
		want string
	}{
		{dataJob("r1", 1, file, protocol.DataOp{Action: "update", Key: "k"}), `data action "update" is not read, write or delete`},
		{dataJob("r1", 2, protocol.StoreSpec{Name: "x", Type: "redis"}, protocol.DataOp{Action: "read", Key: "k"}), `data store x: property type: unknown type "redis"`},
		{dataJob("r1", 3, protocol.StoreSpec{Name: "x", Type: "kv", Properties: map[string]any{"buckt": "b"}}, protocol.DataOp{Action: "read", Key: "k"}), "property buckt"},
		{protocol.Job{Version: protocol.JobVersion, ID: protocol.JobID{RunID: "r1", Step: 4, Attempt: 1}, Type: protocol.TaskData}, "data job has no store"},
	} {
		publishJob(t, js, tc.job)
		res := waitResult(t, js, tc.job.ID)
		if res.Success || !strings.Contains(res.Msg, tc.want) {
			t.Errorf("case %d: got %+v, want failure %q", i, res, tc.want)
		}
	}
	// A file store on the worker's host keeps types.
	w := dataJob("r1", 5, file, protocol.DataOp{Action: "write", Key: "replicas", Value: float64(3)})
	publishJob(t, js, w)
	if res := waitResult(t, js, w.ID); !res.Success {
		t.Fatalf("file write: %+v", res)
	}
	r := dataJob("r1", 6, file, protocol.DataOp{Action: "read", Key: "replicas"})
	publishJob(t, js, r)
	if res := waitResult(t, js, r.ID); !res.Success || res.Data != float64(3) {
		t.Fatalf("file read: %+v", res)
	}
	waitJobsEmpty(t, js)
}

func TestDataJobMemoryStoreIsPerRun(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc))
	mem := protocol.StoreSpec{Name: "scratch", Type: "memory"}
	w := dataJob("runA", 1, mem, protocol.DataOp{Action: "write", Key: "k", Value: "a"})
	publishJob(t, js, w)
	if res := waitResult(t, js, w.ID); !res.Success {
		t.Fatalf("write: %+v", res)
	}
	same := dataJob("runA", 2, mem, protocol.DataOp{Action: "read", Key: "k"})
	other := dataJob("runB", 1, mem, protocol.DataOp{Action: "read", Key: "k"})
	publishJob(t, js, same)
	publishJob(t, js, other)
	if res := waitResult(t, js, same.ID); !res.Success || res.Data != "a" {
		t.Fatalf("same run: %+v", res)
	}
	if res := waitResult(t, js, other.ID); res.Success {
		t.Fatalf("another run saw the memory store: %+v", res)
	}
}

// TestHTTPTasksThroughWorker publishes webhook, slack and graphite_event jobs to the JOBS stream
// of a real server and reads their results back.
func TestHTTPTasksThroughWorker(t *testing.T) {
	nc, js := setup(t)
	hookCalls := make(chan httpCall, 2)
	hook := answerHTTP(t, `{"queued": 1}`, hookCalls)
	slack := answerHTTP(t, `{"ok": false, "error": "not_in_channel"}`, nil)
	graphite := answerHTTP(t, "", nil)
	start(t, newWorker(t, nc, WithName("w-http"), WithSlackAPI(slack)))

	jobs := []protocol.Job{
		{Type: protocol.TaskWebhook, Properties: map[string]any{"uri": hook + "/deploy", "data": map[string]any{"rev": "abc"}}},
		{Type: protocol.TaskSlack, Properties: map[string]any{"token": "xoxb-t", "channel": "#ops", "text": "hi"}},
		{Type: protocol.TaskGraphiteEvent, Properties: map[string]any{"what": "deploy", "data": "abc", "graphite": graphite}},
	}
	for i := range jobs {
		jobs[i].Version = protocol.JobVersion
		jobs[i].ID = protocol.JobID{RunID: "r1", Step: i + 1, Attempt: 1}
		jobs[i].Playbook = "test_book"
		publishJob(t, js, jobs[i])
	}
	want := []struct {
		success bool
		msg     string
	}{
		{true, "POST " + hook + "/deploy: HTTP 200 OK"},
		{false, "Slack chat.postMessage failed: not_in_channel"},
		{true, "POST " + graphite + ": HTTP 200 OK"},
	}
	for i, job := range jobs {
		res := waitResult(t, js, job.ID)
		if res.Success != want[i].success || res.Msg != want[i].msg || res.Worker != "w-http" {
			t.Errorf("%s: %+v", job.Type, res)
		}
	}
	if len(hookCalls) != 1 {
		t.Fatalf("webhook got %d requests, want 1", len(hookCalls))
	}
	if got := <-hookCalls; got.requestID != "r1/1/1/0" || got.body != `{"rev":"abc"}` {
		t.Errorf("webhook request: %s %s", got.requestID, got.body)
	}
	if d, _ := waitResult(t, js, jobs[0].ID).Data.(map[string]any); d["queued"] != float64(1) {
		t.Errorf("webhook data: %#v", d)
	}
	waitJobsEmpty(t, js)
}

func TestExampleTicketPluginThroughWorker(t *testing.T) {
	nc, js := setup(t)
	plugins, err := filepath.Abs(filepath.Join("..", "examples", "plugins"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, newWorker(t, nc, WithPluginDir(plugins)))
	queue := filepath.Join(t.TempDir(), "tickets.jsonl")

	job := protocol.Job{
		Version: protocol.JobVersion, ID: protocol.JobID{RunID: "r1", Step: 4, Attempt: 1},
		Type: "ticket", Description: "file it", Playbook: "test_book",
		Properties: map[string]any{"summary": "web1 is down", "priority": 2, "queue": queue},
	}
	publishJob(t, js, job)
	res := waitResult(t, js, job.ID)
	if !res.Success || res.Msg != "Ticket FB-r1-4-1 filed" {
		t.Fatalf("result: %+v", res)
	}
	if d, _ := res.Data.(map[string]any); d["ticket"] != "FB-r1-4-1" || d["priority"] != float64(2) || d["queue"] != queue {
		t.Errorf("data: %#v", res.Data)
	}
	if n := lines(t, queue); n != 1 {
		t.Errorf("queue has %d tickets, want 1", n)
	}

	bad := job
	bad.ID.Step = 5
	bad.Properties = map[string]any{"summary": "x", "priority": 9, "queue": queue}
	publishJob(t, js, bad)
	if res := waitResult(t, js, bad.ID); res.Success || res.Msg != "priority must be 1 to 5, got 9" {
		t.Errorf("bad priority: %+v", res)
	}
	waitJobsEmpty(t, js)
}
