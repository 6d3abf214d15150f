package coordinator

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// A sensitive input's value is kept out of the run record, the jobs and the report, is available
// to workers while the run lasts, and is deleted when it ends.
func TestSensitiveInputsStayOutOfRecordsAndJobs(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	secrets, err := kvstore.OpenSecrets(context.Background(), e.js, nil)
	if err != nil {
		t.Fatal(err)
	}
	const value = "hunter2-very-secret"
	var duringRun map[string]any
	w := e.startTestWorker(func(job *protocol.Job) protocol.Result {
		duringRun, _ = secrets.Get(context.Background(), job.ID.RunID)
		return protocol.Result{Success: true, Msg: "ok"}
	})
	doc := header + "inputs:\n  password:\n    type: String\n    description: p\n    sensitive: true\n" +
		"tasks:\n  - shell:\n      command: \"login {{{ inputs.password }}}\"\n" +
		"  - log:\n      message: \"logged in with {{{ inputs.password }}}\"\n"
	id := e.submit(doc, map[string]any{"password": value})
	r := e.waitFinal(id, 10*time.Second)
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("%s: %s", r.Status, r.Error)
	}
	if duringRun["password"] != value {
		t.Errorf("workers could not read the secret during the run: %v", duringRun)
	}
	job, _ := json.Marshal(w.jobs)
	report, _ := json.Marshal(r)
	runs, err := e.js.KeyValue(context.Background(), protocol.RunsBucket)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := runs.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"jobs": string(job), "report": string(report), "run record": string(entry.Value())} {
		if strings.Contains(text, value) {
			t.Errorf("the secret appears in the %s: %s", what, text)
		}
	}
	if r.Inputs["password"] != protocol.Redacted || r.Tasks[1].Msg != "logged in with [redacted]" {
		t.Errorf("report inputs %v, log %q", r.Inputs, r.Tasks[1].Msg)
	}
	after, err := secrets.Get(context.Background(), id)
	if err != nil || len(after) != 0 {
		t.Errorf("secrets left after the run: %v %v", after, err)
	}
}
