package kvstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// createdLongRun is a fixture and a longRun of a playbook of doc bytes, created now and stored,
// with its revision.
func createdLongRun(t *testing.T, doc int) (*retentionFixture, *protocol.RunRecord, uint64) {
	t.Helper()
	f := newRetentionFixture(t)
	rec := longRun(time.Now(), doc)
	rev, err := f.runs.Create(t.Context(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return f, rec, rev
}

// longRun is a run record with a playbook of doc bytes, created at created.
func longRun(created time.Time, doc int) *protocol.RunRecord {
	return &protocol.RunRecord{ID: uuidV7At(created).String(), Status: protocol.StatusRunning, CreatedAt: created,
		Document: strings.Repeat("#", doc), Files: map[string]string{"child.yaml": "name: child"}}
}

// addStep appends step seq, finished, with data of size bytes, as a driver's write would.
func addStep(rec *protocol.RunRecord, size int) {
	seq := len(rec.Steps) + 1
	rec.Steps = append(rec.Steps, protocol.StepRecord{Seq: seq, Key: fmt.Sprintf("tasks[%d]", seq-1), List: "tasks",
		Type: "noop", Description: "step", Attempt: 1, Done: true, Success: true, Msg: "done",
		Data: strings.Repeat("d", size), StartedAt: rec.CreatedAt, EndedAt: rec.CreatedAt})
}

// storedSize is the size of run id's record as the bucket holds it, and its steps there.
func storedSize(t *testing.T, f *retentionFixture, id string) (int, int) {
	t.Helper()
	kv, err := f.js.KeyValue(t.Context(), protocol.RunsBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Steps []json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(e.Value(), &raw); err != nil {
		t.Fatal(err)
	}
	return len(e.Value()), len(raw.Steps)
}

// A run of 300 steps written at every step, as the driver writes it, keeps a stored record
// whose size does not grow with the run: its finished steps and its large playbook are in parts.
// Read back, it has every step and its playbook, as written.
func TestRunRecordSizeFlatInRunLength(t *testing.T) {
	f, rec, rev := createdLongRun(t, 40<<10)
	ctx := t.Context()
	var err error
	var sizeAt40, largest int
	for range 300 {
		addStep(rec, 200)
		if rev, err = f.runs.Update(ctx, rec, rev); err != nil {
			t.Fatal(err)
		}
		size, steps := storedSize(t, f, rec.ID)
		if steps > unsealedSteps {
			t.Fatalf("the stored record holds %d steps after step %d: more than %d", steps, len(rec.Steps), unsealedSteps)
		}
		if len(rec.Steps) == 40 {
			sizeAt40 = size
		}
		largest = max(largest, size)
	}
	if largest > sizeAt40*3/2 {
		t.Errorf("the stored record grew from %d bytes at step 40 to %d by step 300", sizeAt40, largest)
	}
	if largest > 20<<10 {
		t.Errorf("the stored record reached %d bytes with a 40 KB playbook in a part", largest)
	}
	got, grev, err := f.runs.Get(ctx, rec.ID)
	if err != nil || grev != rev {
		t.Fatalf("get: rev %d (want %d), %v", grev, rev, err)
	}
	if len(got.Steps) != 300 || got.Document != rec.Document || !reflect.DeepEqual(got.Files, rec.Files) {
		t.Fatalf("read back %d steps, playbook of %d bytes (want 300, %d)", len(got.Steps), len(got.Document), len(rec.Document))
	}
	for i, st := range got.Steps {
		if st.Seq != i+1 || st.Data != rec.Steps[i].Data || st.Key != rec.Steps[i].Key {
			t.Fatalf("step at %d read back as seq %d key %s", i, st.Seq, st.Key)
		}
	}
	// What a reader gives back is written again as it is: no page written twice, no step lost.
	if _, err := f.runs.Update(ctx, got, grev); err != nil {
		t.Fatal(err)
	}
	again, _, err := f.runs.Get(ctx, rec.ID)
	if err != nil || len(again.Steps) != 300 || !reflect.DeepEqual(again.StepPages, got.StepPages) {
		t.Fatalf("written again: %d steps, pages %d → %d, %v", len(again.Steps), len(got.StepPages), len(again.StepPages), err)
	}
	// The same through a watch.
	w, err := f.runs.WaitFor(ctx, rec.ID, func(r *protocol.RunRecord) bool { return true })
	if err != nil || len(w.Steps) != 300 || w.Document != rec.Document {
		t.Fatalf("wait for: %v", err)
	}
}

// A step whose outcomes are large (an rpc step's per-node data) seals every finished step as
// soon as the record passes sealRecordBytes, so the record stays storable, and a page stays
// well under the server's message size.
func TestLargeStepsSealedEarly(t *testing.T) {
	f, rec, rev := createdLongRun(t, 10)
	ctx := t.Context()
	var err error
	for range 12 {
		addStep(rec, 100<<10)
		if rev, err = f.runs.Update(ctx, rec, rev); err != nil {
			t.Fatal(err)
		}
		if size, _ := storedSize(t, f, rec.ID); size > sealRecordBytes+150<<10 {
			t.Fatalf("stored record of %d bytes after step %d", size, len(rec.Steps))
		}
	}
	if rec.SealedSteps == 0 {
		t.Fatal("nothing sealed")
	}
	kv, err := f.js.KeyValue(ctx, protocol.RunsBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range rec.StepPages {
		e, err := kv.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Value()) > maxPageBytes+101<<10 {
			t.Errorf("page %s holds %d bytes", key, len(e.Value()))
		}
	}
	got, _, err := f.runs.Get(ctx, rec.ID)
	if err != nil || len(got.Steps) != 12 {
		t.Fatalf("read back: %v", err)
	}
}

// Parts are not runs: listings, the run index and retention see records only, and a pruned or
// removed run leaves none of its parts behind.
func TestRunPartsAreNotRuns(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := t.Context()
	ended := time.Now().Add(-2 * time.Hour)
	old := longRun(ended.Add(-time.Minute), 20<<10)
	rev, err := f.runs.Create(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 * pageSteps {
		addStep(old, 10)
	}
	old.Status, old.EndedAt = protocol.StatusSuccess, ended
	if _, err := f.runs.Update(ctx, old, rev); err != nil {
		t.Fatal(err)
	}
	if len(old.StepPages) == 0 || old.DocumentPart == "" {
		t.Fatalf("no parts: pages %v, document %q", old.StepPages, old.DocumentPart)
	}
	queued := longRun(time.Now(), 20<<10)
	qrev, err := f.runs.Create(ctx, queued)
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.runs.List(ctx, 0)
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %d runs, %v", len(all), err)
	}
	x := NewRunIndex(f.js, f.runs)
	if err := x.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer x.Stop()
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 2 {
		t.Errorf("the run index holds %d runs, want 2", x.Len())
	}
	if err := f.runs.Remove(ctx, queued.ID, qrev); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRetention(ctx, f.js)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || res.Pruned != 1 {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	kv, err := f.js.KeyValue(ctx, protocol.RunsBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for key := range keys.Keys() {
		t.Errorf("left behind: %s", key)
	}
}

// A record whose page is missing is not given back short of steps, and a record decoded
// without its parts is refused rather than stored short.
func TestRunPartsMissingOrNotRead(t *testing.T) {
	f, rec, rev := createdLongRun(t, 10)
	ctx := t.Context()
	var err error
	for range 3 * pageSteps {
		addStep(rec, 10)
	}
	if rev, err = f.runs.Update(ctx, rec, rev); err != nil {
		t.Fatal(err)
	}
	stored, _, err := f.runs.getStored(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.runs.Update(ctx, stored, rev); !errors.Is(err, errIncomplete) {
		t.Errorf("a record without its sealed steps was stored: %v", err)
	}
	kv, err := f.js.KeyValue(ctx, protocol.RunsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, rec.StepPages[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.runs.Get(ctx, rec.ID); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), rec.StepPages[0]) {
		t.Errorf("get with a page missing: %v", err)
	}
}

// A node set of 100,000 nodes, and the job in flight that targets it, are stored in parts (the
// set in several, each well under the server's message size), not in every write of the record;
// read back, the record has the set and the job its targets.
func TestLargeNodeSetsInParts(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := t.Context()
	rec := longRun(time.Now(), 10)
	web := make([]string, 100_000)
	for i := range web {
		web[i] = fmt.Sprintf("web-%06d.example.net", i)
	}
	rec.Nodes = map[string][]string{"web": web, "db": {"db1", "db2"}}
	rec.Steps = []protocol.StepRecord{{Seq: 1, Key: "tasks[0]", List: "tasks", Type: "rpc", Attempt: 1,
		Job: &protocol.Job{ID: protocol.JobID{RunID: rec.ID, Step: 1, Attempt: 1}, Type: "rpc", Targets: web}}}
	rev, err := f.runs.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	rec.Steps[0].Msg = "batch 1 of 100 applied"
	if _, err := f.runs.Update(ctx, rec, rev); err != nil {
		t.Fatal(err)
	}
	if size, _ := storedSize(t, f, rec.ID); size > 8<<10 {
		t.Errorf("the stored record holds %d bytes", size)
	}
	if len(rec.NodeParts["web"]) < 2 || rec.NodeParts["db"] != nil {
		t.Fatalf("node parts %v", rec.NodeParts)
	}
	got, _, err := f.runs.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Nodes, rec.Nodes) {
		t.Errorf("node sets read back: web %d nodes, db %v", len(got.Nodes["web"]), got.Nodes["db"])
	}
	if j := got.Steps[0].Job; j == nil || !reflect.DeepEqual(j.Targets, web) || got.Steps[0].JobTargetsSet != "" {
		t.Errorf("the job in flight lost its targets")
	}
}
