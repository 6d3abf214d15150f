package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// stepLatencies returns the p50 and p99 of the steps' durations as the coordinator recorded them
// (from the step's start to its result being applied).
func stepLatencies(reports map[string]*protocol.Report) (p50, p99 time.Duration) {
	var ds []time.Duration
	for _, rep := range reports {
		for _, task := range rep.Tasks {
			ds = append(ds, task.EndedAt.Sub(task.StartedAt))
		}
	}
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)*50/100], ds[min(len(ds)-1, len(ds)*99/100)]
}

// L1: many concurrent runs on 4 workers and one coordinator: every run succeeds, every effect
// exactly once. Short form 50 runs × 5 steps; long form 200 × 10.
func TestL1Concurrency(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	r.coordinator("c1")
	for i := range 4 {
		r.worker(fmt.Sprintf("w%d", i+1))
	}
	runs, steps := pick(50, 200), pick(5, 10)
	t0 := time.Now()
	ids := r.submitMany(runs, book(steps, "true"), nil)
	reports := r.waitFinal(ids, 5*time.Minute)
	p50, p99 := stepLatencies(reports)
	t.Logf("ROW L1: %d runs × %d steps = %d steps in %s; step latency p50 %s p99 %s", runs, steps, runs*steps, since(t0),
		p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	requireOK(t, "L1", r.check(ids, steps, reports))
}

// chaos kills a random worker every workerEvery and the coordinator every coordEvery (each
// restarted at once under a new name), seeded, until stop; it returns how many it killed.
func (r *rig) chaos(seed uint64, workers []*proc, coord *proc, workerEvery, coordEvery time.Duration) (stop func() (int, int)) {
	rng := rand.New(rand.NewPCG(seed, seed))
	quit := make(chan struct{})
	done := make(chan struct{})
	var wk, ck int
	go func() {
		defer close(done)
		wt, ct := time.NewTicker(workerEvery), time.NewTicker(coordEvery)
		defer wt.Stop()
		defer ct.Stop()
		for n := 0; ; n++ {
			select {
			case <-quit:
				return
			case <-wt.C:
				i := rng.IntN(len(workers))
				workers[i].kill()
				wk++
				workers[i] = r.worker(fmt.Sprintf("w%d-%d", i, n))
			case <-ct.C:
				coord.kill()
				ck++
				coord = r.coordinator(fmt.Sprintf("c-%d", n))
			}
		}
	}()
	var once sync.Once
	return func() (int, int) {
		once.Do(func() { close(quit); <-done })
		return wk, ck
	}
}

// L2: L1 while a random worker is SIGKILLed every few seconds and the coordinator every few
// more, each replaced at once. Same correctness: every run succeeds, every effect once.
func TestL2LoadWithChaos(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	coord := r.coordinator("c0")
	var workers []*proc
	for i := range 4 {
		workers = append(workers, r.worker(fmt.Sprintf("w%d", i)))
	}
	runs, steps := pick(40, 200), pick(5, 10)
	t0 := time.Now()
	ids := r.submitMany(runs, book(steps, sleepBody), map[string]any{"sleep": "1"})
	// A killed worker's jobs wait out the takeover wait (3×AckWait) before another worker starts
	// them: killing more often than that only piles up waits. The row's own rates (5 s, 20 s) in
	// the long form; the short form kills the coordinator more often, to see more takeovers.
	stop := r.chaos(42, workers, coord, 5*time.Second, time.Duration(pick(10, 20))*time.Second)
	reports := r.waitFinal(ids, 10*time.Minute)
	wk, ck := stop()
	t.Logf("ROW L2: %d runs × %d steps under chaos (seed 42): %d worker and %d coordinator kills; all final in %s", runs, steps, wk, ck, since(t0))
	requireOK(t, "L2", r.check(ids, steps, reports))
}

// rss is the resident set size of pid in KiB.
func rss(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// L4 (long form only): a soak at 1 run per second of 5 steps for FLEETBOOK_SOAK (default 30m).
// At the end the work queues are empty, nothing is lost or doubled; the coordinator's and
// worker's memory is recorded at the first and the last fifth.
func TestL4Soak(t *testing.T) {
	if !long() {
		t.Skip("long form only: FLEETBOOK_FAULTS_LONG=1")
	}
	d := 30 * time.Minute
	if v := os.Getenv("FLEETBOOK_SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	c := r.coordinator("c1")
	w := r.worker("w1")
	const steps = 5
	doc := book(steps, "true")
	var ids []string
	var early, late [2]int
	t0 := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(t0) < d {
		<-tick.C
		ids = append(ids, r.mustSubmit(doc, nil))
		if early[0] == 0 && time.Since(t0) > d/5 {
			early = [2]int{rss(c.cmd.Process.Pid), rss(w.cmd.Process.Pid)}
		}
	}
	late = [2]int{rss(c.cmd.Process.Pid), rss(w.cmd.Process.Pid)}
	reports := r.waitFinal(ids, 5*time.Minute)
	_, js := natstest.Connect(t, r.url)
	msgs := map[string]uint64{}
	for _, name := range []string{protocol.RunsStreamName, protocol.JobsStreamName, protocol.ResultsStreamName, "KV_" + protocol.RunsBucket} {
		var info *jetstream.StreamInfo
		natstest.Eventually(t, time.Minute, func() error {
			st, err := js.Stream(context.Background(), name)
			if err != nil {
				return err
			}
			info, err = st.Info(context.Background())
			if err == nil && name != "KV_"+protocol.RunsBucket && info.State.Msgs != 0 {
				return fmt.Errorf("%s holds %d messages", name, info.State.Msgs)
			}
			return err
		})
		msgs[name] = info.State.Bytes
	}
	t.Logf("ROW L4: %s soak, %d runs × %d steps; queues drained; runs bucket %d bytes; RSS KiB coordinator %d→%d worker %d→%d",
		d, len(ids), steps, msgs["KV_"+protocol.RunsBucket], early[0], late[0], early[1], late[1])
	requireOK(t, "L4", r.check(ids, steps, reports))
}
