package coordinator

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// BenchmarkListRuns lists runs through a coordinator with 100, 10,000 and 100,000 stored: the
// newest page, and a filtered listing with counts by status (the console's runs page). Its
// cost should not grow with the stored runs for the page, and grow only by an in-memory scan for
// the counts:
//
//	go test ./coordinator/ -run '^$' -bench ListRuns -benchtime 200x
func BenchmarkListRuns(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			s := natstest.RunServer(b)
			nc, js := natstest.Connect(b, s.ClientURL())
			ctx := context.Background()
			if err := kvstore.Provision(ctx, js, kvstore.Config{}); err != nil {
				b.Fatal(err)
			}
			seedRuns(b, js, n)
			cnc, _ := natstest.Connect(b, s.ClientURL())
			c, err := New(cnc, WithName("bench"))
			if err != nil {
				b.Fatal(err)
			}
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = c.Run(cctx) }()
			b.Cleanup(func() { cancel(); <-done })
			client, err := NewClient(nc)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			natstest.Eventually(b, 2*time.Minute, func() error {
				_, err := client.ListRunsPage(ctx, protocol.ListRunsRequest{Limit: 1})
				return err
			})
			b.Logf("%d stored runs: the first listing (the index reading every summary) took %v", n, time.Since(start))
			for _, q := range []struct {
				name string
				req  protocol.ListRunsRequest
			}{
				{"page", protocol.ListRunsRequest{Limit: 50}},
				{"filtered+counts", protocol.ListRunsRequest{Limit: 50, Playbook: "flow", Status: []protocol.RunStatus{protocol.StatusFailed}, WithCounts: true}},
			} {
				b.Run(q.name, func(b *testing.B) {
					for b.Loop() {
						if _, err := client.ListRunsPage(ctx, q.req); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// seedRuns stores n finished run records, 16 writers at a time, a third of them failed and a
// fifth of another playbook.
func seedRuns(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	runs, err := kvstore.OpenRuns(context.Background(), js)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				u := uuid.Must(uuid.NewV7())
				sec, nsec := u.Time().UnixTime()
				at := time.Unix(sec, nsec).UTC()
				rec := &protocol.RunRecord{ID: u.String(), Playbook: protocol.PlaybookRef{Name: "flow", Version: "1.0.0"},
					Status: protocol.StatusSuccess, CreatedAt: at, StartedAt: at, EndedAt: at,
					SubmittedBy: protocol.Identity{Name: "bench"}}
				if i%3 == 0 {
					rec.Status, rec.Error = protocol.StatusFailed, "failed on purpose"
				}
				if i%5 == 0 {
					rec.Playbook.Name = "other"
				}
				if _, err := runs.Create(context.Background(), rec); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}
