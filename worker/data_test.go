package worker

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

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
