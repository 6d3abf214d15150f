package faults

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// stallMonitor watches the ledger grow and keeps the longest time it did not, until stop.
func (r *rig) stallMonitor() (stop func() time.Duration) {
	quit := make(chan struct{})
	out := make(chan time.Duration)
	go func() {
		var last int64
		lastGrow, longest := time.Now(), time.Duration(0)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				out <- longest
				return
			case <-t.C:
				fi, err := os.Stat(r.ledger)
				if err != nil {
					continue
				}
				if fi.Size() != last {
					last, lastGrow = fi.Size(), time.Now()
				} else if d := time.Since(lastGrow); d > longest {
					longest = d
				}
			}
		}
	}()
	var once sync.Once
	var longest time.Duration
	return func() time.Duration {
		once.Do(func() { close(quit); longest = <-out })
		return longest
	}
}

// clusterRig starts a 3-node cluster with a coordinator and two workers using 3 replicas.
func clusterRig(t *testing.T) (*natstest.Cluster, *rig, jetstream.JetStream) {
	c := natstest.RunCluster(t, 3)
	r := newRig(t, c.URLs())
	r.replicas = 3
	awaitReady(t, r.coordinator("c1"), r.coordinator("c2"), r.worker("w1"), r.worker("w2"))
	js, err := jetstream.New(r.nc)
	if err != nil {
		t.Fatal(err)
	}
	return c, r, js
}

// N4 (and L3 in its long form): on a 3-node cluster with every stream and bucket at 3 replicas,
// the node leading FLEETBOOK_JOBS is shut down while runs are in flight. Runs continue, all
// succeed, every effect once; the node, restarted, is current again.
func TestN4ClusterLosesJobsLeader(t *testing.T) {
	t.Parallel()
	c, r, js := clusterRig(t)
	runs, steps := pick(20, 200), pick(5, 10)
	ids := r.submitMany(runs, book(steps, sleepBody), map[string]any{"sleep": "0.2"})
	stalls := r.stallMonitor()
	r.waitLedger(time.Minute, "a step done", func(e entry) bool { return e.kind == "done" })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leader, err := natstest.StreamLeader(ctx, js, protocol.JobsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	victim := c.Index(leader)
	c.Shutdown(victim)
	down := time.Now()
	reports := r.waitFinal(ids, 4*time.Minute)
	finished := since(down)
	longest := stalls()

	c.Start(victim)
	restarted := time.Now()
	natstest.Eventually(t, time.Minute, func() error { return replicasCurrent(js, leader) })
	newLeader, _ := natstest.StreamLeader(ctx, js, protocol.JobsStreamName)
	t.Logf("ROW N4: %d runs x %d steps; jobs leader %s shut down mid-run, new leader %s; all final %s later; longest pause in step effects %s; %s current again %s after restart",
		runs, steps, leader, newLeader, finished, longest.Round(10*time.Millisecond), leader, since(restarted))
	requireOK(t, "N4", r.check(ids, steps, reports))
}

// replicasCurrent reports, as an error, any replica of any fleetbook stream that is not current,
// and whether node is back among them.
func replicasCurrent(js jetstream.JetStream, node string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range []string{protocol.RunsStreamName, protocol.JobsStreamName, protocol.ResultsStreamName, "KV_" + protocol.RunsBucket} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		seen := info.Cluster.Leader == node
		for _, p := range info.Cluster.Replicas {
			if !p.Current || p.Offline {
				return fmt.Errorf("stream %s: replica %s not current", name, p.Name)
			}
			seen = seen || p.Name == node
		}
		if !seen {
			return fmt.Errorf("stream %s: %s not among its peers yet", name, node)
		}
	}
	return nil
}

// N5: two of three nodes down (quorum lost). Submits fail with an error within the client's
// timeout, none hangs, and none leaves a run behind; accepted runs survive; after the nodes come
// back every run, and every failed submit retried with its key, completes once.
func TestN5ClusterLosesQuorum(t *testing.T) {
	t.Parallel()
	c, r, _ := clusterRig(t)
	const steps = 3
	doc := book(steps, sleepBody)
	before := r.submitMany(10, doc, map[string]any{"sleep": "0.3"})

	c.Shutdown(1)
	c.Shutdown(2)
	outage := time.Now()
	var subs []submission
	var slowest time.Duration
	for i := range 3 {
		s := submission{key: fmt.Sprintf("%s-outage-%d", t.Name(), i)}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t0 := time.Now()
		s.id, s.err = r.submit(ctx, doc, s.key, map[string]any{"sleep": "0.3"})
		slowest = max(slowest, time.Since(t0))
		cancel()
		subs = append(subs, s)
	}
	failedDuring := 0
	for _, s := range subs {
		if s.err != nil {
			failedDuring++
		}
	}
	if d := time.Duration(pick(5, 15)) * time.Second; time.Since(outage) < d {
		time.Sleep(d - time.Since(outage))
	}
	c.Start(1)
	c.Start(2)
	c.WaitReady(time.Minute)
	recovered := time.Now()

	var retried []string
	for _, s := range subs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		id, err := r.submit(ctx, doc, s.key, map[string]any{"sleep": "0.3"})
		cancel()
		if err != nil {
			t.Fatalf("resubmit %s after recovery: %v", s.key, err)
		}
		if s.err == nil && id != s.id {
			t.Errorf("resubmit of accepted %s gave %s, want %s", s.key, id, s.id)
		}
		retried = append(retried, id)
	}
	ids := append(before, retried...)
	reports := r.waitFinal(ids, 3*time.Minute)
	list, err := r.client.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(ids) {
		t.Errorf("%d runs stored, want %d: a failed submit left a run behind", len(list), len(ids))
	}
	t.Logf("ROW N5: quorum lost for %s; %d of 3 submits during the outage failed, slowest answer %s; after recovery all %d runs final %s later, %d runs stored",
		since(outage), failedDuring, slowest.Round(10*time.Millisecond), len(ids), since(recovered), len(list))
	requireOK(t, "N5", r.check(ids, steps, reports))
}

// N6: rolling restarts: every node in turn is shut down and started again, waiting until the
// streams are current before the next, while runs are in flight. Short form one cycle, long
// form three. Every run succeeds, every effect once; the streams and buckets survive each cycle.
func TestN6ClusterRollingRestarts(t *testing.T) {
	t.Parallel()
	c, r, js := clusterRig(t)
	cycles := pick(1, 3)
	const steps = 3
	ids := r.submitMany(pick(20, 60), book(steps, sleepBody), map[string]any{"sleep": "0.5"})
	t0 := time.Now()
	for cycle := range cycles {
		for i := range 3 {
			name := c.Node(i).Name()
			c.Shutdown(i)
			c.Start(i)
			natstest.Eventually(t, 2*time.Minute, func() error { return replicasCurrent(js, name) })
		}
		t.Logf("cycle %d done %s after start", cycle+1, since(t0))
	}
	reports := r.waitFinal(ids, 4*time.Minute)
	t.Logf("ROW N6: %d rolling restart cycles of 3 nodes with %d runs in flight; all final %s after the first restart", cycles, len(ids), since(t0))
	requireOK(t, "N6", r.check(ids, steps, reports))
}
