package kvstore

import (
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// List returns the newest runs first, by their creation time, whether the limit cuts inside a
// millisecond shared by several runs or not, and all of them without a limit.
func TestRunsListNewestFirst(t *testing.T) {
	f := newRetentionFixture(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var want []string // newest first
	// 20 runs a second apart, created out of order; the newest three share one millisecond and
	// are told apart by CreatedAt alone.
	for _, i := range []int{7, 3, 19, 0, 12, 5, 16, 1, 9, 14, 2, 18, 6, 11, 4, 17, 8, 13, 10, 15} {
		at := base.Add(time.Duration(i) * time.Second)
		if i >= 17 {
			at = base.Add(17 * time.Second)
		}
		u := uuidV7At(at)
		rec := &protocol.RunRecord{ID: u.String(), Status: protocol.StatusSuccess, CreatedAt: at.Add(time.Duration(i) * time.Microsecond)}
		if _, err := f.runs.Create(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	all, err := f.runs.List(t.Context(), 0)
	if err != nil || len(all) != 20 {
		t.Fatalf("list all: %d runs, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Fatalf("list all is not newest first at %d", i)
		}
	}
	for _, r := range all {
		want = append(want, r.ID)
	}
	for _, limit := range []int{1, 2, 3, 5, 20, 50} {
		got, err := f.runs.List(t.Context(), limit)
		if err != nil {
			t.Fatal(err)
		}
		n := min(limit, 20)
		if len(got) != n {
			t.Fatalf("limit %d: %d runs", limit, len(got))
		}
		for i := range got {
			if got[i].ID != want[i] {
				t.Errorf("limit %d: run %d is %s, want %s", limit, i, got[i].ID, want[i])
			}
		}
	}
}

// BenchmarkRunsList is `runs list` (50 newest) over a history of 10,000 runs.
func BenchmarkRunsList(b *testing.B) {
	s := natstest.RunServer(b)
	_, js := natstest.Connect(b, s.ClientURL())
	if err := Provision(b.Context(), js, Config{}); err != nil {
		b.Fatal(err)
	}
	runs, err := OpenRuns(b.Context(), js)
	if err != nil {
		b.Fatal(err)
	}
	base := time.Now().Add(-24 * time.Hour)
	for i := range 10000 {
		at := base.Add(time.Duration(i) * time.Second)
		rec := &protocol.RunRecord{ID: uuidV7At(at).String(), Status: protocol.StatusSuccess, CreatedAt: at,
			Document: strings.Repeat("x", 1000)}
		if _, err := runs.Create(b.Context(), rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if recs, err := runs.List(b.Context(), 50); err != nil || len(recs) != 50 {
			b.Fatalf("%d runs, %v", len(recs), err)
		}
	}
}
