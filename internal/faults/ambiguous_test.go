package faults

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// C3: ambiguous writes. The coordinator and the workers reach the server through a proxy that
// drops the server's answer to 10% of their writes (seeded; the first of each kind always): run
// record and idempotency key writes (KV create and compare-and-set), run message, job and result
// publishes, and the run message's confirmed acknowledgement. Each such write succeeds on the
// server and times out in the client. Submits whose answer was lost are retried with their key,
// as a client would. Every run must succeed with every effect once, none may be left running,
// and the writes made again after a timeout must be recognised: compare-and-set conflicts
// answered by reading the record again, and publishes answered as duplicates.
func TestC3AmbiguousWrites(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	const seed, rate = 3, 0.10
	kinds := []dropKind{
		{"run record", protocol.BucketSubject(protocol.RunsBucket, "")},
		{"idempotency key", protocol.BucketSubject(protocol.SubmissionsBucket, "")},
		{"run message", strings.TrimSuffix(protocol.RunsSubjectWildcard, ">")},
		{"job", strings.TrimSuffix(protocol.JobsSubjectWildcard, ">")},
		{"result", strings.TrimSuffix(protocol.ResultsSubjectWildcard, ">")},
		{"run ack", "$JS.ACK." + protocol.RunsStreamName + "."},
	}
	proxy := startReplyDropper(t, srv.ClientURL(), seed, rate, kinds...)
	// The test's own client goes through the proxy too; it writes nothing the proxy watches.
	r := newRig(t, proxy.URL())
	c := r.coordinator("c1")
	r.worker("w1")
	r.worker("w2")
	r.waitAPI()
	const steps = 3
	doc := book(steps, "true")
	t0 := time.Now()
	subs := r.generate(pick(30, 100), 10, doc, 0, func() {})
	submitted := map[string]dropStats{}
	for _, k := range kinds {
		submitted[k.name] = proxy.Stats(k.name)
	}
	ids, failed := r.resubmitAll(subs, doc)
	reports := r.waitFinal(ids, 3*time.Minute)
	v := r.check(ids, steps, reports)
	// A run whose ack or last write looked failed must not be left queued, to be driven again.
	waitDrained(t, srv.ClientURL(), protocol.RunsStreamName, protocol.JobsStreamName)

	rereads := strings.Count(c.logText(), "storing run record")
	jobRetries := strings.Count(c.logText(), "publishing job")
	t.Logf("ROW C3: seed %d, %d%% of answers dropped; %d submits, %d answered with an error or not at all and retried with their key; all final %s after the first submit",
		seed, int(rate*100), len(subs), failed, since(t0))
	for _, k := range kinds {
		t.Logf("ROW C3 %s writes: %s (%d conflicts while runs were submitted and driven, the rest from the resubmits)",
			k.name, proxy.Stats(k.name), submitted[k.name].conflicts)
	}
	t.Logf("ROW C3 coordinator: %d run record writes timed out and were followed by a fresh read, %d job publishes tried again", rereads, jobRetries)
	requireOK(t, "C3", v)
	for _, k := range kinds {
		if proxy.Stats(k.name).dropped == 0 {
			t.Errorf("no %s answer was dropped: the row proves nothing for it", k.name)
		}
	}
	conflicts := proxy.Stats("run record").conflicts + proxy.Stats("idempotency key").conflicts
	if conflicts == 0 {
		t.Errorf("no compare-and-set conflict observed")
	}
	if rereads == 0 {
		t.Errorf("no run record write timed out in the coordinator: its fresh read after an ambiguous write was not exercised")
	}
	for _, kind := range []string{"job", "result"} {
		if proxy.Stats(kind).duplicates == 0 {
			t.Errorf("no %s publish was made again and answered as a duplicate", kind)
		}
	}
}

// resubmitAll submits every submission again with its key, all at once, each until it is
// answered (an answer may be lost too), as a client that got no answer or an error would. A key
// that was accepted must give the same run again. It returns the run ids, how many submissions
// had failed, and fails the test if a key gave another run or runs were stored for no key.
func (r *rig) resubmitAll(subs []submission, doc string) (ids []string, failed int) {
	r.t.Helper()
	ids = make([]string, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		if s.err != nil {
			failed++
		}
		wg.Go(func() {
			var err error
			for range 10 {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				ids[i], err = r.submit(ctx, doc, s.key, nil)
				cancel()
				if err == nil {
					break
				}
			}
			switch {
			case err != nil:
				r.t.Errorf("resubmit %s: 10 tries, the last: %v", s.key, err)
			case s.err == nil && ids[i] != s.id:
				r.t.Errorf("resubmit of accepted %s gave run %s, want %s (duplicated run)", s.key, ids[i], s.id)
			}
		})
	}
	wg.Wait()
	if r.t.Failed() {
		r.t.FailNow()
	}
	if n := r.storedRuns(); n != len(subs) {
		r.t.Errorf("%d runs stored for %d distinct submissions", n, len(subs))
	}
	return ids, failed
}

// waitDrained waits until the work-queue streams named hold no message.
func waitDrained(t *testing.T, url string, streams ...string) {
	t.Helper()
	_, js := natstest.Connect(t, url)
	natstest.Eventually(t, time.Minute, func() error {
		for _, name := range streams {
			st, err := js.Stream(context.Background(), name)
			if err != nil {
				return err
			}
			if n := st.CachedInfo().State.Msgs; n != 0 {
				return fmt.Errorf("%s still holds %d messages", name, n)
			}
		}
		return nil
	})
}
