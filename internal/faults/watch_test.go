package faults

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/protocol"
)

// N9: KV watch completeness across a server restart. No fleetbook process keeps a cache fed by
// a KV watch (docs/reliability.md, row N9): what watches is a wait for one change, in two places,
// and both must see a change made after the server was SIGKILLed and restarted under them:
//
//   - a parent run's playbook task waits for its child run's final status by watching the
//     child's record (kvstore.Runs.WaitFinal): 200 records (1,000 in the long form) are waited on
//     at once and updated 10 times each, 5 before the restart and 5 after, the last making them
//     final; every waiter must return the last version;
//   - a kv lock waiter watches the lock's key for its release (datastore kv locks): the holder
//     releases after the restart; the waiter must take the lock. Its lease is 5 minutes and its
//     wait 2, so the fallback that retries once a lease has passed cannot stand in for the watch.
func TestN9WatchWaitersAcrossRestart(t *testing.T) {
	t.Parallel()
	// The writes go through one connection, the waits through another, as between the
	// coordinator that finishes a child run and the one whose parent run waits for it.
	r := newRestartRig(t, "n9")
	srv, wjs, rjs, writer, reader, ids := r.srv, r.wjs, r.rjs, r.writer, r.reader, r.ids
	ctx := context.Background()
	n := len(ids)
	const updates = 10
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	type waited struct {
		rec *protocol.RunRecord
		err error
		at  time.Time
	}
	got := make([]chan waited, n)
	for i, id := range ids {
		got[i] = make(chan waited, 1)
		go func() {
			rec, err := reader.WaitFinal(wctx, id)
			got[i] <- waited{rec, err, time.Now()}
		}()
	}

	spec := protocol.StoreSpec{Name: "n9", Type: datastore.TypeKV, Properties: map[string]any{"ttl": 300}}
	holder, err := datastore.OpenLocker(ctx, wjs, spec, "holder")
	if err != nil {
		t.Fatal(err)
	}
	lease, err := holder.Lock(ctx, "n9/deploy", 0)
	if err != nil {
		t.Fatal(err)
	}
	waiter, err := datastore.OpenLocker(ctx, rjs, spec, "waiter")
	if err != nil {
		t.Fatal(err)
	}
	type locked struct {
		lease datastore.Lease
		err   error
		at    time.Time
	}
	lockc := make(chan locked, 1)
	go func() {
		l, err := waiter.Lock(wctx, "n9/deploy", 2*time.Minute)
		lockc <- locked{l, err, time.Now()}
	}()

	// Every waiter watches before anything changes: one consumer each.
	natstest.Eventually(t, time.Minute, func() error {
		for bucket, want := range map[string]int{protocol.RunsBucket: n, protocol.LocksBucket: 1} {
			st, err := wjs.Stream(ctx, protocol.BucketStreamName(bucket))
			if err != nil {
				return err
			}
			if c := st.CachedInfo().State.Consumers; c < want {
				return fmt.Errorf("bucket %s: %d of %d waiters watching", bucket, c, want)
			}
		}
		return nil
	})

	update := func(u int) {
		for _, id := range ids {
			setEpoch(t, writer, id, u, u == updates)
		}
	}
	for u := 1; u <= updates/2; u++ {
		update(u)
	}
	srv.Kill()
	srv.Start()
	restarted := time.Now()
	for u := updates/2 + 1; u <= updates; u++ {
		update(u)
	}
	finalWritten := time.Now()
	releaseLock(t, lease)
	released := time.Now()

	late, failed, slowest := 0, 0, time.Duration(0)
	for i, c := range got {
		w := <-c
		switch {
		case w.err != nil:
			failed++
			if failed <= 5 {
				t.Errorf("waiter of %s: %v", ids[i], w.err)
			}
		case w.rec.Epoch != updates || w.rec.Status != protocol.StatusSuccess:
			late++
			t.Errorf("waiter of %s returned version %d (%s), want the last, %d", ids[i], w.rec.Epoch, w.rec.Status, updates)
		default:
			slowest = max(slowest, w.at.Sub(finalWritten))
		}
	}
	l := <-lockc
	lockMsg := "lock taken " + l.at.Sub(released).Round(time.Millisecond).String() + " after its release"
	if l.err != nil {
		lockMsg = "lock wait failed: " + l.err.Error()
		t.Errorf("lock waiter: %v", l.err)
	} else {
		releaseLock(t, l.lease)
	}
	t.Logf("ROW N9: %d run records waited on by watch, %d updates each, server SIGKILLed and restarted after %d (last write %s after the restart); %d waiters returned the last version (the slowest %s after the last write), %d returned an older one, %d failed; %s",
		n, updates, updates/2, finalWritten.Sub(restarted).Round(time.Millisecond), n-late-failed, slowest.Round(time.Millisecond), late, failed, lockMsg)
}

// setEpoch writes version u of run id's record (its epoch; final when final), reading the record
// again after any failure, as the coordinator does: the server may be restarting.
func setEpoch(t *testing.T, runs *kvstore.Runs, id string, u int, final bool) {
	t.Helper()
	natstest.Eventually(t, time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rec, rev, err := runs.Get(ctx, id)
		if err != nil {
			return err
		}
		if rec.Epoch >= u {
			return nil // an earlier try landed without its answer
		}
		rec.Epoch, rec.Status = u, protocol.StatusRunning
		if final {
			rec.Status = protocol.StatusSuccess
		}
		_, err = runs.Update(ctx, rec, rev)
		return err
	})
}

// releaseLock releases a lease, trying again while the server may still be coming back; a try
// that finds the lease gone after one that failed found it released by that one.
func releaseLock(t *testing.T, l datastore.Lease) {
	t.Helper()
	tries := 0
	natstest.Eventually(t, time.Minute, func() error {
		tries++
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := l.Release(ctx)
		if errors.Is(err, datastore.ErrNotHeld) && tries > 1 {
			return nil
		}
		return err
	})
}

// The run index (what runs.list is served from) across a server SIGKILL and restart: a Sync that
// returns means the index holds every write made before it, however the index's consumer fared
// in the restart. The coordinator reads the records instead when a Sync does not return within
// its bound (5 s); here the Sync is given long enough for the consumer to be recreated.
func TestN9RunIndexAcrossRestart(t *testing.T) {
	t.Parallel()
	r := newRestartRig(t, "n9i")
	srv, writer, ids := r.srv, r.writer, r.ids
	ctx := context.Background()
	idx := kvstore.NewRunIndex(r.rjs, r.reader)
	if err := idx.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idx.Stop)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := idx.Sync(sctx); err != nil || idx.Len() != len(ids) {
		t.Fatalf("before the restart: sync %v, %d of %d runs", err, idx.Len(), len(ids))
	}

	srv.Kill()
	srv.Start()
	restarted := time.Now()
	for _, id := range ids {
		setEpoch(t, writer, id, 1, true)
	}
	written := time.Now()
	// A Sync that returns early would be the index serving a stale listing.
	natstest.Eventually(t, 2*time.Minute, func() error {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return idx.Sync(sctx)
	})
	synced := time.Now()
	stale := 0
	idx.Newest(func(s *protocol.RunSummary) bool {
		if s.Status != protocol.StatusSuccess {
			stale++
		}
		return true
	})
	if stale != 0 || idx.Len() != len(ids) {
		t.Errorf("after a Sync that returned: %d of %d runs stale, %d held", stale, len(ids), idx.Len())
	}
	t.Logf("ROW N9-index: %d runs indexed, server SIGKILLed and restarted, every record rewritten (the last %s after the restart); the index's Sync returned %s after the last write, with %d stale",
		len(ids), written.Sub(restarted).Round(time.Millisecond), synced.Sub(written).Round(time.Millisecond), stale)
}

// restartRig is a server process with fleetbook's streams, two connections to it that reconnect
// through a restart (writes through wjs, reads through rjs), and pick(200, 1000) pending run
// records, their ids starting with prefix.
type restartRig struct {
	srv            *natstest.ServerProcess
	wjs, rjs       jetstream.JetStream
	writer, reader *kvstore.Runs
	ids            []string
}

func newRestartRig(t *testing.T, prefix string) *restartRig {
	t.Helper()
	r := &restartRig{srv: natstest.StartServerProcess(t, natstest.ProcessOptions{})}
	connect := func() jetstream.JetStream {
		_, js := natstest.Connect(t, r.srv.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		return js
	}
	r.wjs, r.rjs = connect(), connect()
	ctx := context.Background()
	if err := kvstore.Provision(ctx, r.wjs, kvstore.Config{}); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.writer, err = kvstore.OpenRuns(ctx, r.wjs); err != nil {
		t.Fatal(err)
	}
	if r.reader, err = kvstore.OpenRuns(ctx, r.rjs); err != nil {
		t.Fatal(err)
	}
	r.ids = make([]string, pick(200, 1000))
	for i := range r.ids {
		r.ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
		rec := &protocol.RunRecord{Version: protocol.RunVersion, ID: r.ids[i], Status: protocol.StatusPending, CreatedAt: time.Now().UTC()}
		if _, err := r.writer.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	return r
}
