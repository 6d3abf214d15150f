package coordinator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// streamMessages counts the messages a stream ever stored (its last sequence).
func (e *env) streamMessages(name string) uint64 {
	e.t.Helper()
	st, err := e.js.Stream(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.LastSeq
}

func TestSubmitRefusesBadInputBeforeStoringAnything(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	doc := header + "inputs:\n  n:\n    description: count\n    type: Integer\ntasks:\n" + shell("echo")
	for _, tc := range []struct {
		name, doc string
		inputs    map[string]any
		code      string
		wantPath  string
		wantLine  int
	}{
		{"malformed yaml", "name: [unclosed\n", nil, protocol.CodeInvalidPlaybook, "", 1},
		{"unknown top-level key", header + "colour: blue\n", nil, protocol.CodeInvalidPlaybook, "colour", 5},
		{"unknown task key", header + "tasks:\n  - shell:\n      command: x\n      comand: y\n", nil, protocol.CodeInvalidPlaybook, "tasks[0].shell.comand", 8},
		{"missing required input", doc, nil, protocol.CodeInvalidInput, "inputs.n", 0},
		{"wrong input type", doc, map[string]any{"n": "many"}, protocol.CodeInvalidInput, "inputs.n", 0},
		{"unknown input", doc, map[string]any{"n": 1, "m": 2}, protocol.CodeInvalidInput, "inputs.m", 0},
		{"child playbook not attached", header + "tasks:\n  - playbook:\n      file: other.yaml\n", nil, protocol.CodeInvalidPlaybook, "tasks[0].playbook.file", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.Submit(context.Background(), protocol.SubmitRequest{Playbook: tc.doc, Inputs: tc.inputs, IdempotencyKey: tc.name})
			var apiErr *protocol.ErrorResponse
			if !errors.As(err, &apiErr) {
				t.Fatalf("want an API error, got %v", err)
			}
			if apiErr.Code != tc.code || !apiErr.Refused() {
				t.Fatalf("code %s, want %s: %v", apiErr.Code, tc.code, apiErr)
			}
			var found bool
			for _, p := range apiErr.Problems {
				found = found || strings.HasPrefix(p.Path, tc.wantPath) && (tc.wantLine == 0 || p.Line == tc.wantLine)
			}
			if !found {
				t.Errorf("no problem at %s line %d in %v", tc.wantPath, tc.wantLine, apiErr)
			}
		})
	}
	for _, name := range []string{protocol.RunsStreamName, protocol.JobsStreamName, "KV_" + protocol.RunsBucket, "KV_" + protocol.SubmissionsBucket} {
		if n := e.streamMessages(name); n != 0 {
			t.Errorf("%s holds %d messages after refused submissions", name, n)
		}
	}
}

func TestIdempotentSubmit(t *testing.T) {
	// A short duplicate window proves the same key gives the same run after the window, too.
	e := newEnv(t, kvstore.Config{Duplicates: 200 * time.Millisecond})
	e.startCoordinator("c1")
	w := e.startTestWorker(succeed)
	doc := header + "tasks:\n" + shell("once")
	req := protocol.SubmitRequest{Playbook: doc, IdempotencyKey: "deploy-42"}
	ctx := context.Background()
	first, err := e.client.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.waitFinal(first.RunID, 10*time.Second)
	time.Sleep(400 * time.Millisecond) // past the duplicate window
	again, err := e.client.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.RunID != first.RunID || !again.Duplicate {
		t.Fatalf("resubmission gave run %s duplicate=%v, want %s", again.RunID, again.Duplicate, first.RunID)
	}
	req.Playbook = doc + "# changed\n"
	_, err = e.client.Submit(ctx, req)
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeIdempotencyConflict {
		t.Fatalf("reused key with another body: got %v, want %s", err, protocol.CodeIdempotencyConflict)
	}
	runs, err := e.client.List(ctx, 0)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %v, want exactly one", runs, err)
	}
	w.ranEachOnce(t, 1)
}

func TestConcurrentDuplicateSubmitsMakeOneRun(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startCoordinator("c2")
	e.startTestWorker(succeed)
	req := protocol.SubmitRequest{Playbook: header + "tasks:\n" + shell("x"), IdempotencyKey: "same"}
	ids := make(chan string, 20)
	for range 20 {
		go func() {
			resp, err := e.client.Submit(context.Background(), req)
			if err != nil {
				t.Error(err)
				ids <- ""
				return
			}
			ids <- resp.RunID
		}()
	}
	first := <-ids
	for range 19 {
		if id := <-ids; id != first {
			t.Fatalf("run ids differ: %s and %s", first, id)
		}
	}
	e.waitFinal(first, 10*time.Second)
}

// Validate and ValidatePlaybook return a plain nil error for a valid playbook, and otherwise an
// error that carries the *protocol.ErrorResponse a refused submission gets.
func TestValidateErrorsCarryTheErrorResponse(t *testing.T) {
	doc := header + "inputs:\n  n:\n    description: count\n    type: Integer\ntasks:\n" + shell("echo")
	if _, err := ValidatePlaybook([]byte(doc)); err != nil {
		t.Fatalf("ValidatePlaybook of a valid playbook: %v", err)
	}
	if _, inputs, err := Validate([]byte(doc), map[string]any{"n": 1}); err != nil || inputs["n"] != 1 {
		t.Fatalf("Validate of valid inputs: %v (inputs %v)", err, inputs)
	}
	for _, tc := range []struct {
		name, doc, code string
		validate        func(doc string) error
	}{
		{"ValidatePlaybook, unknown key", header + "colour: blue\n", protocol.CodeInvalidPlaybook,
			func(doc string) error { _, err := ValidatePlaybook([]byte(doc)); return err }},
		{"Validate, unknown key", header + "colour: blue\n", protocol.CodeInvalidPlaybook,
			func(doc string) error { _, _, err := Validate([]byte(doc), nil); return err }},
		{"Validate, missing input", doc, protocol.CodeInvalidInput,
			func(doc string) error { _, _, err := Validate([]byte(doc), nil); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var apiErr *protocol.ErrorResponse
			if err := tc.validate(tc.doc); !errors.As(err, &apiErr) {
				t.Fatalf("got %v, want a *protocol.ErrorResponse", err)
			}
			if apiErr.Code != tc.code || len(apiErr.Problems) == 0 {
				t.Errorf("code %s with %d problems, want %s naming the problems", apiErr.Code, len(apiErr.Problems), tc.code)
			}
		})
	}
}
