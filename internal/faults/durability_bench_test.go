package faults

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker"
)

// syncModes are the embedded server's durability modes: the default (fsync every 2 minutes) and
// --sync always (fsync before every acknowledgement).
var syncModes = []struct {
	name   string
	always bool
}{{"default", false}, {"always", true}}

func syncServer(b *testing.B, always bool) *server.Server {
	return natstest.RunServer(b, func(o *server.Options) { o.SyncAlways = always })
}

// BenchmarkPublishSync measures one acknowledged publish to a file-backed stream in each mode:
// the raw price of an fsync per acknowledgement.
func BenchmarkPublishSync(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			srv := syncServer(b, m.always)
			_, js := natstest.Connect(b, srv.ClientURL())
			ctx := context.Background()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "B", Subjects: []string{"b.>"}}); err != nil {
				b.Fatal(err)
			}
			body := make([]byte, 256)
			b.ResetTimer()
			for i := range b.N {
				if _, err := js.Publish(ctx, fmt.Sprintf("b.%d", i%16), body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunSync measures whole runs (2 no-op shell steps) through an in-process coordinator
// and worker, 20 at a time, in each mode; it reports runs per second.
func BenchmarkRunSync(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			srv := syncServer(b, m.always)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			b.Cleanup(func() { cancel(); wg.Wait() })
			cnc, _ := natstest.Connect(b, srv.ClientURL())
			c, err := coordinator.New(cnc)
			if err != nil {
				b.Fatal(err)
			}
			wnc, _ := natstest.Connect(b, srv.ClientURL())
			w, err := worker.New(wnc, worker.WithConcurrency(8), worker.WithStore(kvstore.Config{}))
			if err != nil {
				b.Fatal(err)
			}
			wg.Go(func() { _ = c.Run(ctx) })
			wg.Go(func() { _ = w.Run(ctx) })
			nc, _ := natstest.Connect(b, srv.ClientURL())
			client, err := coordinator.NewClient(nc)
			if err != nil {
				b.Fatal(err)
			}
			doc := book(2, "true")
			ledger := b.TempDir() + "/ledger"
			one := func(key string) {
				sctx, scancel := context.WithTimeout(ctx, time.Minute)
				defer scancel()
				resp, err := client.Submit(sctx, protocol.SubmitRequest{Playbook: doc, IdempotencyKey: key, Inputs: map[string]any{"ledger": ledger}})
				if err != nil {
					b.Error(err)
					return
				}
				for {
					rep, err := client.Get(sctx, resp.RunID)
					if err == nil && rep.Status.Final() {
						if rep.Status != protocol.StatusSuccess {
							b.Errorf("run %s: %s", resp.RunID, rep.Status)
						}
						return
					}
					if sctx.Err() != nil {
						b.Error("run did not finish")
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			one("warm-up")
			b.ResetTimer()
			t0 := time.Now()
			for i := range b.N {
				var rw sync.WaitGroup
				for j := range 20 {
					rw.Go(func() { one(fmt.Sprintf("%d-%d", i, j)) })
				}
				rw.Wait()
			}
			b.ReportMetric(float64(20*b.N)/time.Since(t0).Seconds(), "runs/s")
		})
	}
}
