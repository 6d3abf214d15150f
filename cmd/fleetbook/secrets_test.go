package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker"
)

// secretsStack is an embedded server with a file store, a coordinator and a worker holding the
// same secrets master key, and a capture of every job, result and event published, so that a
// test can look for a sensitive value everywhere it could have gone.
type secretsStack struct {
	t      *testing.T
	srv    *server.Server
	js     jetstream.JetStream
	client *coordinator.Client
	key    []byte // nil: no master key (values in clear)
	ctx    context.Context
	wg     *sync.WaitGroup

	mu       sync.Mutex
	captured [][]byte
}

func newSecretsStack(t *testing.T, key []byte, withWorker bool) *secretsStack {
	t.Helper()
	srv := natstest.RunServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Registered after the server's own clean-up, so it runs first: the services stop before it.
	t.Cleanup(func() { cancel(); wg.Wait() })
	s := &secretsStack{t: t, srv: srv, key: key, ctx: ctx, wg: &wg}
	nc, js := natstest.Connect(t, srv.ClientURL())
	s.js = js
	for _, subj := range []string{protocol.JobsSubjectWildcard, protocol.ResultsSubjectWildcard, protocol.EventsSubjectWildcard} {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.captured = append(s.captured, append([]byte(m.Subject+" "), m.Data...))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	opts := []coordinator.Option{coordinator.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if key != nil {
		opts = append(opts, coordinator.WithSecretsKey(key))
	}
	coord, err := coordinator.New(s.conn("coordinator"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = coord.Run(ctx) })
	if withWorker {
		s.startWorker()
	}
	if s.client, err = coordinator.NewClient(nc); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *secretsStack) conn(name string) *nats.Conn {
	s.t.Helper()
	nc, _ := natstest.Connect(s.t, s.srv.ClientURL(), nats.Name(name))
	return nc
}

func (s *secretsStack) startWorker() {
	s.t.Helper()
	opts := []worker.Option{worker.WithStore(kvstore.Config{}), worker.WithConcurrency(2)}
	if s.key != nil {
		opts = append(opts, worker.WithSecretsKey(s.key))
	}
	w, err := worker.New(s.conn("worker"), opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.wg.Go(func() { _ = w.Run(s.ctx) })
}

// submit starts a run of doc with its child playbooks files.
func (s *secretsStack) submit(doc string, inputs map[string]any, files map[string]string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := s.client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, Inputs: inputs, Files: files, IdempotencyKey: uuid.NewString()})
	if err != nil {
		s.t.Fatalf("submit: %v", err)
	}
	return resp.RunID
}

// follow waits for run id's end and returns its report with the report's text and the events
// the follower saw.
func (s *secretsStack) follow(id string) (*protocol.Report, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var seen []protocol.Event
	r, err := s.client.Follow(ctx, id, time.Second, func(e protocol.Event) { seen = append(seen, e) })
	if err != nil {
		s.t.Fatalf("follow: %v", err)
	}
	b, _ := json.Marshal(struct {
		Report *protocol.Report
		Events []protocol.Event
	}{r, seen})
	return r, string(b)
}

func (s *secretsStack) run(doc string, inputs map[string]any, files map[string]string) (*protocol.Report, string) {
	s.t.Helper()
	return s.follow(s.submit(doc, inputs, files))
}

// forms are the ways a value can be written down that the tests look for: as is, base64
// (standard and URL, padded or not) and hex. Written independently of protocol.SecretTexts,
// which they check.
func forms(v string) []string {
	b := []byte(v)
	return []string{v, base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b))}
}

// found returns the form of canary that text holds, or "".
func found(text []byte, canary string) string {
	for _, f := range forms(canary) {
		if bytes.Contains(text, []byte(f)) {
			return f
		}
	}
	return ""
}

// everything returns every message of every stream (so every KV bucket with its history), every
// job, result and event published while the test ran (results are purged when a run ends), each
// named by where it was found.
func (s *secretsStack) everything() map[string][]byte {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := map[string][]byte{}
	s.mu.Lock()
	for i, m := range s.captured {
		out[fmt.Sprintf("published message %d", i)] = m
	}
	s.mu.Unlock()
	names := s.js.StreamNames(ctx)
	for name := range names.Name() {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			s.t.Fatal(err)
		}
		state := st.CachedInfo().State
		for seq := state.FirstSeq; seq > 0 && seq <= state.LastSeq; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				s.t.Fatal(err)
			}
			out[fmt.Sprintf("stream %s message %d (%s)", name, seq, m.Subject)] = append([]byte(m.Subject+" "), m.Data...)
		}
	}
	if names.Err() != nil {
		s.t.Fatal(names.Err())
	}
	return out
}

// assertNowhere fails the test if canary, in any of its forms, is in a report or the events seen
// (texts), or in any stream message or published message.
func (s *secretsStack) assertNowhere(canary string, texts ...string) {
	s.t.Helper()
	for i, text := range texts {
		if f := found([]byte(text), canary); f != "" {
			s.t.Errorf("the sensitive value (as %q) is in report/events %d: %s", f, i, text)
		}
	}
	for where, data := range s.everything() {
		if f := found(data, canary); f != "" {
			s.t.Errorf("the sensitive value (as %q) is in %s: %s", f, where, data)
		}
	}
}

func newSecretsKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, kvstore.SecretsKeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

const secretInput = "inputs:\n  secret:\n    type: String\n    description: s\n    sensitive: true\n"

func canary() string { return "CANARY-" + uuid.NewString() }

// scanStoreDir returns the files under dir that hold canary in one of its forms, with the form.
func scanStoreDir(t *testing.T, dir, canary string) map[string]string {
	t.Helper()
	hits := map[string]string{}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if f := found(b, canary); f != "" {
			hits[path] = f
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no file under %s: nothing was scanned", dir)
	}
	return hits
}

// A sensitive input used by a shell step is nowhere in the server's files once the run ended and
// the server shut down (files flushed): the envelope alone keeps it out of KV_fleetbook_secrets,
// without JetStream's own encryption. The control run without a master key finds it there, which
// shows the scan can fail.
func TestSensitiveValuesNeverAtRest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    bool
		atRest bool
	}{{"sealed", true, false}, {"control without a key", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var key []byte
			if tc.key {
				key = newSecretsKey(t)
			}
			s := newSecretsStack(t, key, true)
			value := canary()
			doc := stackHeader + secretInput +
				"tasks:\n  - shell:\n      command: \"echo logging in with {{ inputs.secret }}\"\n"
			r, text := s.run(doc, map[string]any{"secret": value}, nil)
			if r.Status != protocol.StatusSuccess || !strings.Contains(r.Tasks[0].Msg+fmt.Sprint(r.Tasks[0].Data), "logging in with "+protocol.Redacted) {
				t.Fatalf("%s %s: %+v", r.Status, r.Error, r.Tasks)
			}
			if !tc.key {
				// In clear, the value is in the secrets bucket until the run's end is processed,
				// which may come just after the report says the run ended.
				natstest.Eventually(t, time.Minute, func() error {
					for where, data := range s.everything() {
						if f := found(data, value); f != "" {
							return fmt.Errorf("still in %s", where)
						}
					}
					return nil
				})
			}
			s.assertNowhere(value, text)
			dir := s.srv.JetStreamConfig().StoreDir
			s.srv.Shutdown()
			s.srv.WaitForShutdown()
			hits := scanStoreDir(t, dir, value)
			switch {
			case !tc.atRest && len(hits) > 0:
				t.Errorf("the sensitive value is at rest in clear: %v", hits)
			case tc.atRest && len(hits) == 0:
				t.Errorf("the control run left no trace: the scan cannot see what it looks for")
			case tc.atRest:
				for path := range hits {
					if !strings.Contains(path, "KV_"+protocol.SecretsBucket) {
						t.Errorf("control run: the value is in %s, outside the secrets bucket", path)
					}
				}
			}
		})
	}
}

// A run's sealed values altered after submission: the step fails with a clear error that names
// the input and quotes no value, and the value appears nowhere.
func TestTamperedSecretFailsTheStep(t *testing.T) {
	s := newSecretsStack(t, newSecretsKey(t), false)
	value := canary()
	doc := stackHeader + secretInput + "tasks:\n  - shell:\n      command: \"echo {{ inputs.secret }}\"\n"
	id := s.submit(doc, map[string]any{"secret": value}, nil)
	kv, err := s.js.KeyValue(context.Background(), protocol.SecretsBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Version int               `json:"version"`
		KeyID   string            `json:"key_id"`
		DataKey []byte            `json:"data_key"`
		Values  map[string][]byte `json:"values"`
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil || len(rec.Values["secret"]) == 0 {
		t.Fatalf("secrets record %s: %v", e.Value(), err)
	}
	rec.Values["secret"][len(rec.Values["secret"])/2] ^= 0x40
	tampered, _ := json.Marshal(rec)
	if _, err := kv.Put(context.Background(), id, tampered); err != nil {
		t.Fatal(err)
	}
	s.startWorker()
	r, text := s.follow(id)
	msg := r.Tasks[0].Msg
	if r.Status != protocol.StatusFailed || !strings.Contains(msg, "could not be opened") ||
		!strings.Contains(msg, "sensitive value secret") || !strings.Contains(msg, "failed authentication") {
		t.Fatalf("%s %q: %+v", r.Status, r.Error, r.Tasks)
	}
	s.assertNowhere(value, text)
}

// runFlow runs doc with a canary as its sensitive input and checks the canary is nowhere; it
// returns the report.
func runFlow(t *testing.T, s *secretsStack, doc string, files map[string]string) (*protocol.Report, string) {
	t.Helper()
	value := canary()
	r, text := s.run(doc, map[string]any{"secret": value}, files)
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("%s %s: %+v", r.Status, r.Error, r.Tasks)
	}
	s.assertNowhere(value, text)
	return r, value
}

// logged returns the message of the run's log task number i (0-based among the run's tasks).
func logged(r *protocol.Report, i int) string { return r.Tasks[i].Msg }

// Written to a memory store from a sensitive input, read back and logged: the store holds it
// sealed, the read brings it back sensitive, and it is shown nowhere.
func TestSensitiveFlowsThroughMemoryStore(t *testing.T) {
	s := newSecretsStack(t, newSecretsKey(t), true)
	doc := stackHeader + secretInput + "data_stores:\n  scratch:\n    type: memory\n" +
		"tasks:\n  - data:\n      action: write\n      key: scratch/token\n      value: \"token={{ inputs.secret }}\"\n" +
		"  - data:\n      action: read\n      key: scratch/token\n      register: first\n" +
		"  - log:\n      message: \"read back {{ previous_task.data }}\"\n" +
		"  - shell:\n      command: \"echo again {{ tasks.first.data }}\"\n"
	r, _ := runFlow(t, s, doc, nil)
	if got := logged(r, 2); got != "read back "+protocol.Redacted {
		t.Errorf("log %q", got)
	}
}

// Written to a kv store (by a data task, and by `save: true`), read back in the same run and by
// a later run whose playbook declares nothing sensitive: the mark comes back with the value, the
// later run still gets the real value into its shell step, and the value is shown nowhere, in
// either run.
func TestSensitiveFlowsThroughKVStore(t *testing.T) {
	s := newSecretsStack(t, newSecretsKey(t), true)
	k := strings.ReplaceAll(uuid.NewString(), "-", "")
	doc := stackHeader + "inputs:\n  secret:\n    type: String\n    description: s\n    sensitive: true\n    data: shared/saved_" + k + "\n    save: true\n" +
		"data_stores:\n  shared:\n    type: kv\n" +
		"tasks:\n  - data:\n      action: write\n      key: shared/written_" + k + "\n      value: \"{{ inputs.secret }}\"\n" +
		"  - data:\n      action: read\n      key: shared/written_" + k + "\n" +
		"  - log:\n      message: \"read back {{ previous_task.data }}\"\n"
	r, value := runFlow(t, s, doc, nil)
	if got := logged(r, 2); got != "read back "+protocol.Redacted {
		t.Errorf("log %q", got)
	}
	out := filepath.Join(t.TempDir(), "seen")
	later := stackHeader + "inputs:\n  token:\n    type: String\n    description: t\n    data: shared/saved_" + k + "\n" +
		"data_stores:\n  shared:\n    type: kv\n" +
		"tasks:\n  - data:\n      action: read\n      key: shared/written_" + k + "\n" +
		"  - log:\n      message: \"later {{ previous_task.data }} and {{ inputs.token }}\"\n" +
		"  - shell:\n      command: \"printf %s {{ inputs.token }} > " + out + "; echo {{ inputs.token }}\"\n"
	r2, text := s.run(later, nil, nil)
	if r2.Status != protocol.StatusSuccess {
		t.Fatalf("later run %s %s: %+v", r2.Status, r2.Error, r2.Tasks)
	}
	if got := logged(r2, 1); got != "later "+protocol.Redacted+" and "+protocol.Redacted {
		t.Errorf("later run's log %q", got)
	}
	if seen, err := os.ReadFile(out); err != nil || string(seen) != value {
		t.Errorf("the later run's shell step got %q (%v), want the stored value", seen, err)
	}
	s.assertNowhere(value, text)
}

// leakScript writes the sensitive value to a file in one step and prints it from the file in the
// next, which refers to nothing sensitive: only scrubbing the run's whole set catches it.
func leakScript(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "stash")
	return "tasks:\n  - shell:\n      command: \"printf %s {{ inputs.secret }} > " + path + "\"\n" +
		"  - shell:\n      command: \"cat " + path + "; echo; base64 < " + path + "\"\n      register: leak\n"
}

// A value printed by a step that never referred to it, read through `register` (tasks.NAME).
func TestSensitiveFlowsThroughRegister(t *testing.T) {
	s := newSecretsStack(t, newSecretsKey(t), true)
	doc := stackHeader + secretInput + leakScript(t) +
		"  - noop: {}\n" +
		"  - log:\n      message: \"registered {{ tasks.leak.msg }} {{ tasks.leak.data }}\"\n"
	r, _ := runFlow(t, s, doc, nil)
	if got := logged(r, 3); !strings.Contains(got, protocol.Redacted) {
		t.Errorf("log %q", got)
	}
}

// The same, read through previous_task.
func TestSensitiveFlowsThroughPreviousTask(t *testing.T) {
	s := newSecretsStack(t, newSecretsKey(t), true)
	doc := stackHeader + secretInput + leakScript(t) +
		"  - log:\n      message: \"previous {{ previous_task.msg }} {{ previous_task.data }}\"\n" +
		"  - shell:\n      command: \"echo {{ tasks.leak.data }}\"\n"
	r, _ := runFlow(t, s, doc, nil)
	if got := logged(r, 2); !strings.Contains(got, protocol.Redacted) {
		t.Errorf("log %q", got)
	}
}

// Stdout of a shell step that prints the value as is, JSON-escaped context and base64: all
// scrubbed.
func TestSensitiveFlowsThroughShellOutput(t *testing.T) {
	s := newSecretsStack(t, newSecretsKey(t), true)
	doc := stackHeader + secretInput +
		"tasks:\n  - shell:\n      command: \"echo plain {{ inputs.secret }}; printf %s {{ inputs.secret }} | base64; printf %s {{ inputs.secret }} | od -An -tx1 | tr -d ' \\\\n'; echo; echo failing {{ inputs.secret }} >&2; exit 3\"\n" +
		"      fail_ok: true\n"
	r, _ := runFlow(t, s, doc, nil)
	if !strings.Contains(r.Tasks[0].Msg+fmt.Sprint(r.Tasks[0].Data), "plain "+protocol.Redacted) {
		t.Errorf("shell output %q %v", r.Tasks[0].Msg, r.Tasks[0].Data)
	}
}

// A child playbook that declares nothing sensitive, given a value derived from the parent's
// sensitive input (explicit inputs) and the input itself (inherit_inputs): both are sensitive in
// the child, which still gets the real values.
func TestSensitiveFlowsIntoChildPlaybooks(t *testing.T) {
	s := newSecretsStack(t, newSecretsKey(t), true)
	out := filepath.Join(t.TempDir(), "child")
	child := "name: child\nversion: 1.0.0\nauthor: tests\ndescription: child\n" +
		"inputs:\n  secret:\n    type: String\n    description: s\n    default: none\n" +
		"  derived:\n    type: String\n    description: d\n    default: none\n" +
		"tasks:\n  - shell:\n      command: \"printf %s {{ inputs.derived }} > " + out + "; echo child {{ inputs.secret }} {{ inputs.derived }}\"\n" +
		"  - log:\n      message: \"child logs {{ inputs.secret }} {{ inputs.derived }} {{ previous_task.data }}\"\n"
	doc := stackHeader + secretInput +
		"tasks:\n  - playbook:\n      file: child.yaml\n      inherit_inputs: true\n      inputs:\n        derived: \"pre-{{ inputs.secret }}\"\n"
	value := canary()
	r, text := s.run(doc, map[string]any{"secret": value}, map[string]string{"child.yaml": child})
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("%s %s: %+v", r.Status, r.Error, r.Tasks)
	}
	if seen, err := os.ReadFile(out); err != nil || string(seen) != "pre-"+value {
		t.Errorf("the child's shell step got %q (%v)", seen, err)
	}
	childID, _ := r.Tasks[0].Data.(map[string]any)["run_id"].(string)
	childReport, err := s.client.Get(context.Background(), childID)
	if err != nil {
		t.Fatal(err)
	}
	if childReport.Inputs["secret"] != protocol.Redacted || childReport.Inputs["derived"] != protocol.Redacted {
		t.Errorf("the child's inputs %v", childReport.Inputs)
	}
	b, _ := json.Marshal(childReport)
	s.assertNowhere(value, text, string(b))
}

// A webhook receiver on 127.0.0.1 that answers every request with every body it received: the
// second call, which sends nothing sensitive, gets the value back in its response.
func TestSensitiveFlowsThroughWebhookResponse(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(b))
		_, _ = io.WriteString(w, strings.Join(bodies, "\n"))
	}))
	t.Cleanup(hook.Close)
	s := newSecretsStack(t, newSecretsKey(t), true)
	doc := stackHeader + secretInput +
		"tasks:\n  - webhook:\n      uri: " + hook.URL + "/first\n      data:\n        token: \"{{ inputs.secret }}\"\n" +
		"  - webhook:\n      uri: " + hook.URL + "/second\n      data:\n        hello: world\n" +
		"  - log:\n      message: \"hook said {{ previous_task.msg }} {{ previous_task.data }}\"\n"
	r, value := runFlow(t, s, doc, nil)
	mu.Lock()
	got := strings.Join(bodies, "\n")
	mu.Unlock()
	if !strings.Contains(got, value) {
		t.Errorf("the receiver never got the value: %q", got)
	}
	if !strings.Contains(logged(r, 2), protocol.Redacted) {
		t.Errorf("log %q", logged(r, 2))
	}
}

// Node replies of rpc steps: upgrade given the value, then status, which refers to nothing
// sensitive, both return it from every node.
func TestSensitiveFlowsThroughRPCReplies(t *testing.T) {
	s := newSecretsStack(t, newSecretsKey(t), true)
	(&stack{t: t, url: s.srv.ClientURL()}).fleet(3)
	doc := stackHeader + secretInput + "nodes:\n  all:\n    type: fleet\n    classes: [sim]\n    at_least: 3\n" +
		"tasks:\n  - rpc:\n      action: appmgr.upgrade\n      nodes: \"{{{ nodes.all }}}\"\n      properties:\n        revision: \"{{ inputs.secret }}\"\n" +
		"  - rpc:\n      action: appmgr.status\n      nodes: \"{{{ nodes.all }}}\"\n" +
		"  - log:\n      message: \"status {{ previous_task.msg }} {{ previous_task.data }}\"\n"
	r, _ := runFlow(t, s, doc, nil)
	for i := range 2 {
		if len(r.Tasks[i].Nodes) != 3 {
			t.Fatalf("task %d reached %d nodes", i, len(r.Tasks[i].Nodes))
		}
		for id, nr := range r.Tasks[i].Nodes {
			if data, _ := nr.Data.(map[string]any); data["revision"] != protocol.Redacted {
				t.Errorf("task %d node %s replied %v", i, id, nr.Data)
			}
		}
	}
}
