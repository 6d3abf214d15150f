package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// startedIndex is a run index of f's bucket, started and synced (within 30 s), stopped when the
// test ends.
func startedIndex(t *testing.T, f *retentionFixture) *RunIndex {
	t.Helper()
	x := NewRunIndex(f.js, f.runs)
	if err := x.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Stop)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := x.Sync(ctx); err != nil {
		t.Fatalf("Sync of a view just started: %v", err)
	}
	return x
}

// newestIDs is the view's run ids, newest first, and their statuses.
func newestIDs(x *RunIndex) ([]string, map[string]protocol.RunStatus) {
	var ids []string
	status := map[string]protocol.RunStatus{}
	x.Newest(func(s *protocol.RunSummary) bool {
		ids = append(ids, s.ID)
		status[s.ID] = s.Status
		return true
	})
	return ids, status
}

// The index holds what was stored before it started (records written before writes carried
// their summary too), and after each Sync every write made before it: a new run, a status
// change, a removed run and a pruned one.
func TestRunIndexFollowsTheRunsBucket(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := t.Context()
	now := time.Now().UTC()
	old := now.Add(-48 * time.Hour)
	pruned := f.run(old, protocol.StatusSuccess, old.Add(time.Minute))
	running := f.run(now.Add(-time.Hour), protocol.StatusRunning, time.Time{})
	// A record as an older fleetbook wrote it: no summary header.
	legacyID := uuidV7At(now.Add(-30 * time.Minute)).String()
	legacy, _ := json.Marshal(&protocol.RunRecord{ID: legacyID, Status: protocol.StatusFailed, CreatedAt: now.Add(-30 * time.Minute)})
	if _, err := f.runs.kv.Create(ctx, legacyID, legacy); err != nil {
		t.Fatal(err)
	}

	x := startedIndex(t, f)
	ids, status := newestIDs(x)
	if want := []string{legacyID, running, pruned}; !slices.Equal(ids, want) {
		t.Fatalf("index holds %v, want newest first %v", ids, want)
	}
	if status[legacyID] != protocol.StatusFailed {
		t.Errorf("legacy record indexed as %q, want failed", status[legacyID])
	}

	// A run created out of order (an older id written later) goes to its place.
	between := f.run(now.Add(-45*time.Minute), protocol.StatusPending, time.Time{})
	rec, rev, err := f.runs.Get(ctx, running)
	if err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.EndedAt = protocol.StatusSuccess, now
	if _, err := f.runs.Update(ctx, rec, rev); err != nil {
		t.Fatal(err)
	}
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ids, status = newestIDs(x)
	if want := []string{legacyID, between, running, pruned}; !slices.Equal(ids, want) {
		t.Fatalf("index holds %v, want %v", ids, want)
	}
	if status[running] != protocol.StatusSuccess {
		t.Errorf("updated run indexed as %q, want success: Sync did not wait for the write", status[running])
	}

	// Removed and pruned runs leave it.
	_, brev, err := f.runs.Get(ctx, between)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.runs.Remove(ctx, between, brev); err != nil {
		t.Fatal(err)
	}
	ret, err := OpenRetention(ctx, f.js)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := ret.Prune(ctx, now.Add(-24*time.Hour)); err != nil || res.Pruned != 1 {
		t.Fatalf("prune: %+v %v, want 1 pruned", res, err)
	}
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, _ := newestIDs(x); !slices.Equal(ids, []string{legacyID, running}) || x.Len() != 2 {
		t.Fatalf("index holds %v (len %d), want %v", ids, x.Len(), []string{legacyID, running})
	}

	// A fresh index sees the same: the markers the removals left are read as removals.
	y := NewRunIndex(f.js, f.runs)
	if err := y.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(y.Stop)
	if err := y.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, _ := newestIDs(y); !slices.Equal(ids, []string{legacyID, running}) {
		t.Fatalf("a new index holds %v, want %v", ids, []string{legacyID, running})
	}
}

// A record's summary travels with every write, its error cut short.
func TestRunWritesCarryTheirSummary(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := t.Context()
	id := uuidV7At(time.Now()).String()
	long := string(slices.Repeat([]byte("é"), protocol.MaxSummaryError))
	if _, err := f.runs.Create(ctx, &protocol.RunRecord{ID: id, Status: protocol.StatusFailed, Error: long, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	stream, err := f.js.Stream(ctx, protocol.BucketStreamName(protocol.RunsBucket))
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.GetLastMsgForSubject(ctx, protocol.BucketSubject(protocol.RunsBucket, id))
	if err != nil {
		t.Fatal(err)
	}
	var sum protocol.RunSummary
	if err := json.Unmarshal([]byte(m.Header.Get(protocol.RunSummaryHeader)), &sum); err != nil {
		t.Fatalf("summary header %q: %v", m.Header.Get(protocol.RunSummaryHeader), err)
	}
	if sum.ID != id || sum.Status != protocol.StatusFailed || len(sum.Error) > protocol.MaxSummaryError || !json.Valid([]byte(`"`+sum.Error+`"`)) {
		t.Errorf("summary %+v (error %d bytes), want the run's, error at most %d bytes", sum, len(sum.Error), protocol.MaxSummaryError)
	}
	// Create refuses a taken id; Update a stale revision.
	if _, err := f.runs.Create(ctx, &protocol.RunRecord{ID: id}); !errors.Is(err, ErrExists) {
		t.Errorf("create of a taken id: %v, want ErrExists", err)
	}
	if _, err := f.runs.Update(ctx, &protocol.RunRecord{ID: id}, m.Sequence+100); !errors.Is(err, ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", err)
	}
}

// Sync returns once the view holds every message up to the stream's last sequence that still
// exists: when the newest messages were removed (here a run's parts, as a prune drops them), it
// does not wait for them, and the parts it did see are not runs.
func TestRunIndexSyncPastRemovedMessages(t *testing.T) {
	f := newRetentionFixture(t)
	ctx := t.Context()
	id := f.run(time.Now().Add(-time.Minute), protocol.StatusRunning, time.Time{})
	x := startedIndex(t, f)
	// Parts written after the record, then dropped: the stream's last sequence names a message
	// that is gone.
	for i := range 3 {
		if err := f.runs.putPart(ctx, protocol.DocumentPartKey(id, "p"+string(rune('a'+i))), protocol.DocumentPart{Document: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, _ := newestIDs(x); !slices.Equal(ids, []string{id}) {
		t.Fatalf("index holds %v after parts were written, want only the run %s", ids, id)
	}
	if err := f.runs.dropParts(ctx, id); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := x.Sync(sctx); err != nil {
		t.Fatalf("Sync after the newest messages were removed: %v", err)
	}
	// A view started now never sees the removed parts, the stream's newest sequence among them.
	fresh := startedIndex(t, f) // its Sync would wait for ever without the look for a next message
	if ids, _ := newestIDs(fresh); !slices.Equal(ids, []string{id}) {
		t.Fatalf("fresh index holds %v, want %v", ids, []string{id})
	}
	// And a write after that is seen by the next Sync.
	later := f.run(time.Now(), protocol.StatusPending, time.Time{})
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, _ := newestIDs(x); !slices.Equal(ids, []string{later, id}) {
		t.Fatalf("index holds %v, want %v", ids, []string{later, id})
	}
}
