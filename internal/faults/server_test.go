package faults

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
)

// submission is one submit of a load generator: its key, and the run id or error it got.
type submission struct {
	key string
	id  string
	err error
}

// generate submits n runs of doc at rate per second, each with its own key and a 5s timeout, and
// calls fault once, at faultAt, from another goroutine. It returns every submission.
func (r *rig) generate(n, rate int, doc string, faultAt time.Duration, fault func()) []submission {
	subs := make([]submission, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		time.Sleep(faultAt)
		fault()
	}()
	for i := range n {
		<-tick.C
		subs[i].key = fmt.Sprintf("%s-%d", r.t.Name(), i)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			subs[i].id, subs[i].err = r.submit(ctx, doc, subs[i].key, nil)
		})
	}
	wg.Wait()
	<-faultDone
	return subs
}

// settle resubmits every submission (same key, same body): one that failed must now give its run
// (created once, or now), one that succeeded must give the same run again. It returns the run ids
// and fails the test on any mismatch or on a stored run no key accounts for (others is the number
// of runs submitted otherwise).
func (r *rig) settle(subs []submission, doc string, others int) (ids []string, failed int) {
	r.t.Helper()
	for _, s := range subs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		id, err := r.submit(ctx, doc, s.key, nil)
		cancel()
		switch {
		case err != nil:
			r.t.Fatalf("resubmit %s: %v", s.key, err)
		case s.err == nil && id != s.id:
			r.t.Errorf("resubmit of accepted %s gave run %s, want %s (duplicated run)", s.key, id, s.id)
		}
		if s.err != nil {
			failed++
		}
		ids = append(ids, id)
	}
	if n := r.storedRuns(); n != len(subs)+others {
		r.t.Errorf("%d runs stored for %d distinct submissions", n, len(subs)+others)
	}
	return ids, failed
}

// storedRuns counts the run records in the runs bucket.
func (r *rig) storedRuns() int {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := natstest.Connect(r.t, r.url)
	runs, err := kvstore.OpenRuns(ctx, js)
	if err != nil {
		r.t.Fatal(err)
	}
	recs, err := runs.List(ctx, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	return len(recs)
}

// serverRow runs load against a nats-server subprocess with a coordinator and two workers, applies
// fault at 1.5s, and checks that every accepted run, and every failed submission once retried,
// completes exactly once.
func serverRow(t *testing.T, row string, o natstest.ProcessOptions, fault func(*natstest.ServerProcess)) {
	srv := natstest.StartServerProcess(t, o)
	r := newRig(t, srv.URL)
	r.coordinator("c1")
	r.worker("w1")
	r.worker("w2")
	const steps = 3
	doc := book(steps, "true")
	warm := r.mustSubmit(doc, nil) // the services are up
	runs := pick(60, 200)
	t0 := time.Now()
	var faultTook time.Duration
	subs := r.generate(runs, 20, doc, 1500*time.Millisecond, func() {
		f0 := time.Now()
		fault(srv)
		faultTook = time.Since(f0)
	})
	ok, firstErr := 0, error(nil)
	for _, s := range subs {
		if s.err == nil {
			ok++
		} else if firstErr == nil {
			firstErr = s.err
		}
	}
	ids, failed := r.settle(subs, doc, 1)
	ids = append(ids, warm)
	reports := r.waitFinal(ids, 2*time.Minute)
	v := r.check(ids, steps, reports)
	t.Logf("ROW %s: %d submits at 20/s, %d acknowledged, %d failed or timed out during the fault (%s) and were retried with their key; all final %s after start",
		row, runs, ok, failed, faultTook.Round(10*time.Millisecond), since(t0))
	if firstErr != nil {
		t.Logf("ROW %s: first submit error: %v", row, firstErr)
	}
	requireOK(t, row, v)
}

// N1: SIGKILL of the nats-server (sync_interval: always) under load, restarted 2s later.
func TestN1ServerKilledSyncAlways(t *testing.T) {
	t.Parallel()
	serverRow(t, "N1", natstest.ProcessOptions{SyncAlways: true}, func(p *natstest.ServerProcess) {
		p.Kill()
		time.Sleep(2 * time.Second)
		p.Start()
	})
}

// N2: the same with the default sync interval: a process kill loses nothing, since the OS keeps
// what the server wrote.
func TestN2ServerKilledDefaultSync(t *testing.T) {
	t.Parallel()
	serverRow(t, "N2", natstest.ProcessOptions{}, func(p *natstest.ServerProcess) {
		p.Kill()
		time.Sleep(2 * time.Second)
		p.Start()
	})
}

// N3: a graceful restart (SIGTERM, then start again) under load.
func TestN3ServerGracefulRestart(t *testing.T) {
	t.Parallel()
	serverRow(t, "N3", natstest.ProcessOptions{}, func(p *natstest.ServerProcess) {
		p.Signal(syscall.SIGTERM)
		p.Wait()
		p.Start()
	})
}

// N7 (single-server form): the server is paused (SIGSTOP) for 5s under load, then resumed.
func TestN7ServerPaused(t *testing.T) {
	t.Parallel()
	serverRow(t, "N7", natstest.ProcessOptions{}, func(p *natstest.ServerProcess) {
		p.Signal(syscall.SIGSTOP)
		time.Sleep(5 * time.Second)
		p.Signal(syscall.SIGCONT)
	})
}
