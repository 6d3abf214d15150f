package coordinator

import (
	"maps"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// Counts by status cover every run that matches the listing's other filters, not only the page,
// and leave out what the filters leave out.
func TestListCountsByStatusBeyondThePage(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if job.Shell.Command == "fail" {
			return protocol.Result{Success: false, Msg: "failed on purpose"}
		}
		return succeed(job)
	})
	other := "name: other\nversion: \"1.0.0\"\nauthor: tests\ndescription: another playbook\ntasks:\n  - shell:\n      command: ok\n"
	var ids []string
	for _, cmd := range []string{"ok", "ok", "fail", "ok", "fail"} {
		ids = append(ids, e.submit(header+"tasks:\n  - shell:\n      command: "+cmd+"\n", nil))
	}
	ids = append(ids, e.submit(other, nil))
	for _, id := range ids {
		e.waitFinal(id, time.Minute)
	}
	resp, err := e.client.ListRunsPage(t.Context(), protocol.ListRunsRequest{Limit: 2, Playbook: "flow", WithCounts: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[protocol.RunStatus]int{protocol.StatusSuccess: 3, protocol.StatusFailed: 2}
	if !maps.Equal(resp.Counts, want) {
		t.Fatalf("counts %v, want %v", resp.Counts, want)
	}
	if len(resp.Runs) != 2 || resp.Next == "" {
		t.Fatalf("page of %d runs, next %q: want 2 and a next page", len(resp.Runs), resp.Next)
	}
	// The status filter narrows the page, not the counts.
	resp, err = e.client.ListRunsPage(t.Context(), protocol.ListRunsRequest{Status: []protocol.RunStatus{protocol.StatusFailed}, WithCounts: true})
	if err != nil {
		t.Fatal(err)
	}
	want = map[protocol.RunStatus]int{protocol.StatusSuccess: 4, protocol.StatusFailed: 2}
	if !maps.Equal(resp.Counts, want) || len(resp.Runs) != 2 {
		t.Fatalf("counts %v and %d runs, want %v and 2", resp.Counts, len(resp.Runs), want)
	}
	// Without WithCounts, no counts.
	resp, err = e.client.ListRunsPage(t.Context(), protocol.ListRunsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Counts != nil || len(resp.Runs) != 6 {
		t.Fatalf("counts %v and %d runs, want none and 6", resp.Counts, len(resp.Runs))
	}
}
