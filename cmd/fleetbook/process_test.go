package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/fleettest"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// Two coordinator and three worker processes against one server complete 100 concurrent runs of
// 5 shell steps, every step's effect exactly once.
func TestScaleOutProcesses(t *testing.T) {
	t.Parallel()
	const runs, steps = 100, 5
	f := newFleet(t)
	var procs []*proc
	for i := range 2 {
		procs = append(procs, f.coordinator(fmt.Sprintf("c%d", i+1), 5*time.Second))
	}
	for i := range 3 {
		procs = append(procs, f.worker(fmt.Sprintf("w%d", i+1), 5*time.Second))
	}
	path := filepath.Join(t.TempDir(), "ledger")
	doc := fleettest.LedgerPlaybook(steps, ledgerStep)

	ids := make([]string, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { ids[i] = f.submit(doc, map[string]any{"ledger": path}) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, id := range ids {
		r := f.waitFinal(id, 2*time.Minute)
		if r.Status != protocol.StatusSuccess || len(r.Tasks) != steps {
			t.Errorf("run %s: status %s with %d tasks, want success with %d: %s", id, r.Status, len(r.Tasks), steps, r.Error)
		}
	}
	checkOnce(t, ledger(t, path), ids, steps)
	drove := map[string]int{}
	for _, id := range ids {
		drove[fleettest.RunRecord(t, f.url, id).Owner]++
	}
	t.Logf("runs driven per coordinator: %v", drove)

	// Idle services stop cleanly on SIGTERM (sent to all at once), without logging an error.
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		p.stop(t)
		if b, _ := readLog(p); bytes.Contains(b, []byte("level=ERROR")) {
			t.Errorf("%s logged an error:\n%s", p.name, b)
		}
	}
}

// kill -9 of the coordinator driving a run while one of its steps runs: the other coordinator
// takes the run over after the lease and finishes it, and no step's effect is doubled.
func TestCoordinatorKilledMidRun(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	coords := map[string]*proc{
		"c1": f.coordinator("c1", 2*time.Second),
		"c2": f.coordinator("c2", 2*time.Second),
	}
	first, last := killDriverMidRun(t, f, func(owner string) *proc { return coords[owner] }, nil)
	if last.Owner == first.Owner || last.Epoch <= first.Epoch {
		t.Errorf("run ended with owner %s epoch %d; want it taken over from %s epoch %d", last.Owner, last.Epoch, first.Owner, first.Epoch)
	}
}

// kill -9 of the only coordinator mid-run, then a restart under the same name: the restarted
// process takes the run over and finishes it, and no step's effect is doubled.
func TestCoordinatorRestartedAfterKill(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	c1 := f.coordinator("c1", 2*time.Second)
	first, last := killDriverMidRun(t, f, func(string) *proc { return c1 }, func() { f.coordinator("c1", 2*time.Second) })
	if last.Epoch <= first.Epoch {
		t.Errorf("run ended in epoch %d; want it taken over after epoch %d", last.Epoch, first.Epoch)
	}
}

// killDriverMidRun runs a 3-step ledger playbook, SIGKILLs the coordinator driving it (found by
// driver from the run's owner) while step 2 runs, calls then (if any), and checks that the run
// succeeds with every effect once. It returns the run record before the kill and at the end.
func killDriverMidRun(t *testing.T, f *fleet, driver func(owner string) *proc, then func()) (first, last *protocol.RunRecord) {
	t.Helper()
	const steps = 3
	f.worker("w1", 5*time.Second)
	path := filepath.Join(t.TempDir(), "ledger")
	id := f.submit(fleettest.LedgerPlaybook(steps, ledgerStep), map[string]any{"ledger": path, "sleep": "2"})

	startLine := fmt.Sprintf("%s 2 start", id)
	natstest.Eventually(t, 30*time.Second, func() error {
		if ledger(t, path)[startLine] == 0 {
			return errors.New("step 2 has not started")
		}
		return nil
	})
	first = fleettest.RunRecord(t, f.url, id)
	victim := driver(first.Owner)
	if victim == nil {
		t.Fatalf("run owned by %q, not one of our coordinators", first.Owner)
	}
	victim.kill(syscall.SIGKILL)
	if ledger(t, path)[fmt.Sprintf("%s 2 done", id)] != 0 {
		t.Fatal("step 2 ended before its coordinator was killed; the test proves nothing")
	}
	if then != nil {
		then()
	}

	r := f.waitFinal(id, time.Minute)
	if r.Status != protocol.StatusSuccess || len(r.Tasks) != steps {
		t.Fatalf("status %s with %d tasks, want success with %d: %s", r.Status, len(r.Tasks), steps, r.Error)
	}
	checkOnce(t, ledger(t, path), []string{id}, steps)
	return first, fleettest.RunRecord(t, f.url, id)
}

// kill -9 of a worker while it runs a step: the step is redelivered to another worker and its
// effect happens once. The killed worker's shell dies with it; were it left running, it would
// write its done line too.
func TestWorkerKilledMidStep(t *testing.T) {
	t.Parallel()
	const steps = 3
	f := newFleet(t)
	f.coordinator("c1", 5*time.Second)
	w1 := f.worker("w1", 2*time.Second)
	path := filepath.Join(t.TempDir(), "ledger")
	id := f.submit(fleettest.LedgerPlaybook(steps, ledgerStep), map[string]any{"ledger": path, "sleep": "2"})

	startLine, doneLine := fmt.Sprintf("%s 2 start", id), fmt.Sprintf("%s 2 done", id)
	natstest.Eventually(t, 30*time.Second, func() error {
		if ledger(t, path)[startLine] == 0 {
			return errors.New("step 2 has not started")
		}
		return nil
	})
	w1.kill(syscall.SIGKILL)
	if ledger(t, path)[doneLine] != 0 {
		t.Fatal("step 2 ended before its worker was killed; the test proves nothing")
	}
	f.worker("w2", 2*time.Second)

	r := f.waitFinal(id, time.Minute)
	if r.Status != protocol.StatusSuccess || len(r.Tasks) != steps {
		t.Fatalf("status %s with %d tasks, want success with %d: %s", r.Status, len(r.Tasks), steps, r.Error)
	}
	counts := ledger(t, path)
	checkOnce(t, counts, []string{id}, steps)
	if n := counts[startLine]; n != 2 {
		t.Errorf("step 2 started %d times, want 2 (killed, then redelivered)", n)
	}
}
