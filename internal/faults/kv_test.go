package faults

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
)

// N8: KV read-after-write on an R3 bucket, with the bucket's leader stepping down every 2s:
// write through one node, read back through another, with direct gets (any replica answers) and
// without (the leader answers). Stale reads are counted, not gated: what is gated is that a
// decision taken on a stale read never lands, because every write fleetbook makes is a
// compare-and-set on the revision it read. Short form 3,000 cycles per mode, long form 10,000.
func TestN8KVReadAfterWrite(t *testing.T) {
	t.Parallel()
	c := natstest.RunCluster(t, 3)
	urls := c.URLs()
	cycles := pick(3000, 10000)
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			ctx := context.Background()
			wnc, wjs := natstest.Connect(t, urls)
			bucket := fmt.Sprintf("n8_%v", direct)
			if _, err := wjs.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Replicas: 3, History: 1}); err != nil {
				t.Fatal(err)
			}
			if !direct {
				st, err := wjs.Stream(ctx, "KV_"+bucket)
				if err != nil {
					t.Fatal(err)
				}
				cfg := st.CachedInfo().Config
				cfg.AllowDirect = false
				if _, err := wjs.UpdateStream(ctx, cfg); err != nil {
					t.Fatal(err)
				}
			}
			kvw, err := wjs.KeyValue(ctx, bucket)
			if err != nil {
				t.Fatal(err)
			}
			// The reader reaches the cluster through other nodes first.
			_, rjs := natstest.Connect(t, urls, nats.DontRandomize())
			kvr, err := rjs.KeyValue(ctx, bucket)
			if err != nil {
				t.Fatal(err)
			}
			stop := stepDowns(wnc, "KV_"+bucket)
			defer stop()

			var stale, staleApplied, errs int
			rev, err := kvw.Put(ctx, "k", []byte("0"))
			if err != nil {
				t.Fatal(err)
			}
			// At least 5s, so that the leader steps down a few times.
			t0 := time.Now()
			n := 0
			for i := 1; i <= cycles || time.Since(t0) < 5*time.Second; i++ {
				n = i
				nrev, err := kvw.Update(ctx, "k", []byte(strconv.Itoa(i)), rev)
				if err != nil {
					// A leader change mid-write: read the revision back and go on.
					errs++
					if e, gerr := kvw.Get(ctx, "k"); gerr == nil {
						rev = e.Revision()
					}
					continue
				}
				rev = nrev
				e, err := kvr.Get(ctx, "k")
				if err != nil {
					errs++
					continue
				}
				if e.Revision() < rev {
					stale++
					// A decision on the stale read: it must be refused.
					if _, err := kvr.Update(ctx, "k", []byte("stale"), e.Revision()); err == nil {
						staleApplied++
					} else if !errors.Is(err, jetstream.ErrKeyExists) {
						errs++
					}
					if e, gerr := kvw.Get(ctx, "k"); gerr == nil {
						rev = e.Revision()
					}
				}
			}
			// Whatever the reads saw, a write on an older revision than the last is refused.
			if _, err := kvr.Update(ctx, "k", []byte("stale"), rev-1); err == nil {
				staleApplied++
			}
			t.Logf("ROW N8 direct=%v: %d write-then-read cycles, %d stale reads (%.2f%%), %d writes on a stale revision applied, %d errors during step-downs",
				direct, n, stale, 100*float64(stale)/float64(n), staleApplied, errs)
			if staleApplied != 0 {
				t.Errorf("%d compare-and-set writes on a stale revision were applied", staleApplied)
			}
		})
	}
}

// stepDowns asks stream's leader to step down every 2s until stop.
func stepDowns(nc *nats.Conn, stream string) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 2*time.Second)
			}
		}
	}()
	return func() { close(quit); <-done }
}
