package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// N10 (informational): minority disk corruption on the 3-node R3 cluster. With 20 runs accepted
// and their first jobs queued (no worker yet), one follower is shut down, one .blk file of a
// stream is damaged in its store directory, and the node is started again; then the stream's
// leadership is moved to the damaged node, and workers start. Two damages: one bit flipped in
// the middle of FLEETBOOK_JOBS's block (the queued jobs), and the run records' block
// (KV_fleetbook_runs) cut to half its length. What happens is logged: does the node come back
// current, does it hold what the others hold, do the runs complete. The only gate: every
// accepted run ends or is reported missing (its report is "not found"), none is left running.
func TestN10MinorityDiskCorruption(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stream string
		damage       func(t *testing.T, path string) string
	}{
		{"jobs-bit-flip", protocol.JobsStreamName, flipMiddleBit},
		{"runs-truncate", protocol.BucketStreamName(protocol.RunsBucket), truncateHalf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := natstest.RunCluster(t, 3)
			r := newRig(t, c.URLs())
			r.replicas = 3
			r.coordinator("c1")
			r.coordinator("c2")
			r.waitAPI()
			js, err := jetstream.New(r.nc)
			if err != nil {
				t.Fatal(err)
			}
			const runs, steps = 20, 3
			ids := r.submitMany(runs, book(steps, sleepBody), map[string]any{"sleep": "0.2"})
			// Each run's first job is queued: nothing runs them yet.
			natstest.Eventually(t, time.Minute, func() error {
				return streamHolds(js, protocol.JobsStreamName, runs)
			})

			ctx := context.Background()
			leader, err := natstest.StreamLeader(ctx, js, tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			before := localState(c.Node(c.Index(leader)), tc.stream)
			victim := (c.Index(leader) + 1) % 3
			name := c.Node(victim).Name()
			c.Shutdown(victim)
			how := tc.damage(t, largestBlock(t, c.StoreDir(victim), tc.stream))
			c.Start(victim)
			restarted := time.Now()
			kept := localState(c.Node(victim), tc.stream)
			reported := reportedCurrent(js, tc.stream, name, time.Minute, restarted)
			caught := caughtUp(c, js, tc.stream, victim, time.Minute, restarted)
			moved := moveLeader(r, js, tc.stream, name)
			after := "unknown"
			if l, err := natstest.StreamLeader(ctx, js, tc.stream); err == nil {
				after = fmt.Sprintf("%s holds %s", l, localState(c.Node(c.Index(l)), tc.stream))
			}

			r.worker("w1")
			r.worker("w2")
			reports, missing := r.waitFinalOrMissing(ids, 4*time.Minute)
			v := r.check(ids, steps, reports)
			t.Logf("ROW N10 %s: leader %s held %s; %s of %s on follower %s; restarted, it held %s, stream info reported it current %s, it held the leader's messages %s; %s, and the leader %s; runs: %d succeeded, %d ended otherwise, %d reported missing; %d duplicate effects, %d missing effects",
				tc.name, leader, before, how, tc.stream, name, kept, reported, caught, moved, after,
				runs-v.notSucceeded-v.lost, v.notSucceeded, len(missing), v.duplicateEffects, v.missingEffects)
		})
	}
}

// streamHolds reports, as an error, a stream that does not hold n messages.
func streamHolds(js jetstream.JetStream, stream string, n uint64) error {
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		return err
	}
	if got := st.CachedInfo().State.Msgs; got != n {
		return fmt.Errorf("%s holds %d messages, want %d", stream, got, n)
	}
	return nil
}

// largestBlock is the largest message block file of stream in a node's store directory.
func largestBlock(t *testing.T, storeDir, stream string) string {
	t.Helper()
	blocks, err := filepath.Glob(filepath.Join(storeDir, "jetstream", "*", "streams", stream, "msgs", "*.blk"))
	if err != nil || len(blocks) == 0 {
		t.Fatalf("no block files of %s under %s (%v)", stream, storeDir, err)
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	sort.Slice(blocks, func(i, j int) bool { return size(blocks[i]) > size(blocks[j]) })
	return blocks[0]
}

// flipMiddleBit flips the lowest bit of the byte in the middle of the file.
func flipMiddleBit(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		t.Fatalf("read %s: %d bytes, %v", path, len(b), err)
	}
	at := len(b) / 2
	b[at] ^= 1
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("bit flipped at byte %d of %d of block %s", at, len(b), filepath.Base(path))
}

// truncateHalf cuts the file to half its length.
func truncateHalf(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("block %s cut from %d to %d bytes", filepath.Base(path), fi.Size(), fi.Size()/2)
}

// reportedCurrent waits until stream's info lists node as a current replica (or its leader),
// and says after how long since since, or that it did not within d.
func reportedCurrent(js jetstream.JetStream, stream, node string, d time.Duration, since time.Time) string {
	for time.Since(since) < d {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := js.Stream(ctx, stream)
		cancel()
		if cl := clusterOf(st, err); cl != nil {
			current := cl.Leader == node
			for _, p := range cl.Replicas {
				current = current || p.Name == node && p.Current && !p.Offline
			}
			if current {
				return time.Since(since).Round(10*time.Millisecond).String() + " after its restart"
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "not within " + d.String()
}

func clusterOf(st jetstream.Stream, err error) *jetstream.ClusterInfo {
	if err != nil {
		return nil
	}
	return st.CachedInfo().Cluster
}

// caughtUp waits until node i holds stream as its leader does (same messages, same sequences),
// and says after how long since since, or what it held when d passed.
func caughtUp(c *natstest.Cluster, js jetstream.JetStream, stream string, i int, d time.Duration, since time.Time) string {
	var mine, theirs string
	for time.Since(since) < d {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		leader, err := natstest.StreamLeader(ctx, js, stream)
		cancel()
		if err == nil && c.Index(leader) >= 0 && c.Node(c.Index(leader)) != nil {
			mine, theirs = localState(c.Node(i), stream), localState(c.Node(c.Index(leader)), stream)
			if mine == theirs {
				return time.Since(since).Round(10*time.Millisecond).String() + " after its restart"
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("NOT within %s (it held %s, the leader %s)", d, mine, theirs)
}

// localState is stream's state as node itself holds it.
func localState(s *server.Server, stream string) string {
	info, err := s.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, acc := range info.AccountDetails {
		for _, sd := range acc.Streams {
			if sd.Name == stream {
				return fmt.Sprintf("%d messages (seq %d-%d, %d deleted)", sd.State.Msgs, sd.State.FirstSeq, sd.State.LastSeq, sd.State.NumDeleted)
			}
		}
	}
	return "no such stream"
}

// moveLeader asks stream's leader to step down in favour of node, a few times, and says whether
// node leads it now.
func moveLeader(r *rig, js jetstream.JetStream, stream, node string) string {
	body, _ := json.Marshal(map[string]any{"placement": map[string]any{"preferred": node}})
	var last string
	for range 10 {
		if _, err := r.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, body, 5*time.Second); err != nil {
			last = err.Error()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		leader, err := natstest.StreamLeader(ctx, js, stream)
		cancel()
		if err == nil && leader == node {
			return "leadership moved to " + node
		}
		if err != nil {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	return "leadership could not be moved to " + node + ": " + last
}

// waitFinalOrMissing waits until every run in ids is final or reported missing (not found), and
// fails the test if one is still pending or running after within: an accepted run must never be
// silently dropped. It returns the reports of the runs that exist and the ids of the missing.
func (r *rig) waitFinalOrMissing(ids []string, within time.Duration) (map[string]*protocol.Report, []string) {
	r.t.Helper()
	out := map[string]*protocol.Report{}
	gone := map[string]bool{}
	natstest.Eventually(r.t, within, func() error {
		for _, id := range ids {
			if out[id] != nil || gone[id] {
				continue
			}
			rep, err := r.report(id)
			var apiErr *protocol.ErrorResponse
			switch {
			case errors.As(err, &apiErr) && apiErr.Code == protocol.CodeNotFound:
				gone[id] = true
				continue
			case err != nil:
				return fmt.Errorf("run %s: %w", id, err)
			case !rep.Status.Final():
				return fmt.Errorf("run %s is %s (%d final, %d missing of %d)", id, rep.Status, len(out), len(gone), len(ids))
			}
			out[id] = rep
		}
		return nil
	})
	var missing []string
	for id := range gone {
		missing = append(missing, id)
	}
	sort.Strings(missing)
	return out, missing
}
