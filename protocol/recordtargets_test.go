package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// A job in flight whose targets are a node set is stored naming the set, and decodes with its
// targets; targets that are no node set are stored as they are.
func TestRunRecordStoresNodeSetTargetsOnce(t *testing.T) {
	web := []string{"web1", "web2", "web3"}
	rec := RunRecord{
		Version: RunVersion, ID: "r1", Nodes: map[string][]string{"db": {"db1"}, "web": web},
		Steps: []StepRecord{
			{Seq: 1, Job: &Job{ID: JobID{RunID: "r1", Step: 1, Attempt: 1}, Type: TaskRPC, Targets: web}},
			{Seq: 2, Job: &Job{ID: JobID{RunID: "r1", Step: 2, Attempt: 1}, Type: TaskRPC, Targets: []string{"web2", "db1"}}},
			{Seq: 3},
		},
	}
	data, err := json.Marshal(&rec)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"web3"`); n != 1 || !strings.Contains(string(data), `"job_targets_set":"web"`) {
		t.Errorf("web3 stored %d times, want once, the job naming the set: %s", n, data)
	}
	if rec.Steps[0].Job.Targets == nil || rec.Steps[0].JobTargetsSet != "" {
		t.Error("encoding changed the record it encoded")
	}
	var back RunRecord
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rec) {
		t.Errorf("round trip: got %+v, want %+v", back, rec)
	}
	bad := strings.Replace(string(data), `"job_targets_set":"web"`, `"job_targets_set":"gone"`, 1)
	if err := json.Unmarshal([]byte(bad), &back); err == nil || !strings.Contains(err.Error(), `node set "gone"`) {
		t.Errorf("a record naming a node set it does not have: %v", err)
	}
}
