package coordinator

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fleetbook/fleetbook/internal/natstest"
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

// storeRuns writes n finished run records straight to the bucket, one after the other,
// every third failed and every fifth of playbook "other", and returns their ids oldest first.
func storeRuns(t *testing.T, e *env, n int) []string {
	t.Helper()
	runs, err := kvstore.OpenRuns(t.Context(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range n {
		// As a coordinator makes them: the id is a UUIDv7 of the creation time.
		u := uuid.Must(uuid.NewV7())
		sec, nsec := u.Time().UnixTime()
		at := time.Unix(sec, nsec).UTC()
		rec := &protocol.RunRecord{ID: u.String(), Playbook: protocol.PlaybookRef{Name: "flow", Version: "1.0.0"},
			Status: protocol.StatusSuccess, CreatedAt: at, StartedAt: at, EndedAt: at}
		if i%3 == 0 {
			rec.Status, rec.Error = protocol.StatusFailed, "failed on purpose"
		}
		if i%5 == 0 {
			rec.Playbook.Name = "other"
		}
		if _, err := runs.Create(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		ids[i] = rec.ID
	}
	return ids
}

// Listings are served from the coordinator's run index: once it is up, a listing (filtered,
// counted or paged) reads no run record, however many are stored, and still sees a write made
// just before it.
func TestListReadsNoRecordsOnceIndexed(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	const n = 3000
	ids := storeRuns(t, e, n)
	cnc, _ := natstest.Connect(t, e.url)
	e.runCoordinatorOn(cnc, WithName("c1"))

	// The first listing, once the coordinator answers, starts the index.
	natstest.Eventually(t, 2*time.Minute, func() error {
		_, err := e.client.ListRunsPage(t.Context(), protocol.ListRunsRequest{Limit: 1})
		return err
	})
	before := cnc.Stats().InMsgs
	resp, err := e.client.ListRunsPage(t.Context(), protocol.ListRunsRequest{Playbook: "flow", Limit: 100, WithCounts: true})
	if err != nil {
		t.Fatal(err)
	}
	// A listing is one request, one consumer info and the pull heartbeats of the moment: reading
	// the records would be thousands.
	if got := cnc.Stats().InMsgs - before; got > 100 {
		t.Errorf("a listing over %d runs took %d messages in: it read records", n, got)
	}
	var wantFailed, wantOK int
	for i := range n {
		switch {
		case i%5 == 0:
		case i%3 == 0:
			wantFailed++
		default:
			wantOK++
		}
	}
	if resp.Counts[protocol.StatusFailed] != wantFailed || resp.Counts[protocol.StatusSuccess] != wantOK {
		t.Errorf("counts %v, want failed %d success %d", resp.Counts, wantFailed, wantOK)
	}

	// Paging through every failed run of "flow" gives each once, newest first.
	var got []string
	req := protocol.ListRunsRequest{Playbook: "flow", Status: []protocol.RunStatus{protocol.StatusFailed}, Limit: 77}
	for {
		page, err := e.client.ListRunsPage(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Runs {
			got = append(got, r.ID)
		}
		if page.Next == "" {
			break
		}
		req.Before = page.Next
	}
	var want []string
	for i := n - 1; i >= 0; i-- {
		if i%5 != 0 && i%3 == 0 {
			want = append(want, ids[i])
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d failed runs, want %d, newest first", len(got), len(want))
	}

	// A run stored just now is in the next listing.
	fresh := storeRuns(t, e, 1)[0]
	page, err := e.client.ListRunsPage(t.Context(), protocol.ListRunsRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Runs) != 1 || page.Runs[0].ID != fresh {
		t.Fatalf("newest run %+v, want the one just stored %s", page.Runs, fresh)
	}
}
