package browser

import (
	"context"
	bin "encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// ttiProbe runs in every new document before the page's own scripts: it records, in
// window.fleetbookTTI, the milliseconds from navigation start (performance.now()'s origin) to
// the moment the page sets body[data-ready=true].
const ttiProbe = `(() => {
  const done = () => {
    if (window.fleetbookTTI === undefined && document.body && document.body.dataset.ready === "true") {
      window.fleetbookTTI = performance.now();
      return true;
    }
    return false;
  };
  const o = new MutationObserver(() => { if (done()) o.disconnect(); });
  o.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-ready"] });
})()`

// timeToInteractive opens u b.N times (from a blank page each time, so nothing is reused but
// the browser's cache) and reports the mean milliseconds from navigation start to
// body[data-page=kind][data-ready=true] as ms/tti.
func timeToInteractive(b *testing.B, ctx context.Context, u, kind string) {
	b.Helper()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: ttiProbe}); err != nil {
		b.Fatal(err)
	}
	total, n := 0.0, 0
	for b.Loop() {
		do(b, ctx, "open "+u, chromedp.Navigate("about:blank"), chromedp.Navigate(u), ready(kind))
		total += get(b, ctx, "read the time to interactive", chromedp.Evaluate[float64](`window.fleetbookTTI`))
		n++
	}
	b.ReportMetric(total/float64(n), "ms/tti")
}

// The run page of an rpc step to 10,000 nodes: from navigation to interactive.
func BenchmarkRunPageTimeToInteractive10kNodes(b *testing.B) {
	ctx := newBrowser(b)
	f, id, _ := bigRun(b, upOptions{})
	signIn(b, ctx, f.signIn)
	timeToInteractive(b, ctx, f.console+"/runs/"+id, "run")
}

// seededRuns is how many finished runs BenchmarkRunsPageTimeToInteractive100kRuns stores.
const seededRuns = 100_000

// The runs page (newest first, counts by status) over 100,000 stored runs: from navigation to
// interactive. The runs are seeded straight into the runs bucket, as finished records a
// coordinator would have written, after submitting a few hundred real no-op runs to measure what
// seeding that way would have cost (both rates are logged).
func BenchmarkRunsPageTimeToInteractive100kRuns(b *testing.B) {
	ctx := newBrowser(b)
	f := startUp(b, binary, upOptions{})

	const submitted = 300
	start := time.Now()
	ids := make(chan string, submitted)
	failures := make(chan error, submitted)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			for i := w; i < submitted; i += 8 {
				resp, err := f.client.Submit(sctx, protocol.SubmitRequest{Playbook: noopBook, IdempotencyKey: fmt.Sprintf("seed-%d", i)})
				if err != nil {
					failures <- err
					continue
				}
				ids <- resp.RunID
			}
		})
	}
	wg.Wait()
	close(ids)
	close(failures)
	for err := range failures {
		b.Fatalf("submit: %v", err)
	}
	for id := range ids {
		f.waitRun(b, id)
	}
	bySubmit := time.Since(start)

	start = time.Now()
	seedRuns(b, f, seededRuns-submitted)
	byStore := time.Since(start)
	b.Logf("seeding: %d submitted no-op runs in %v (%.0f runs/s, so %v for %d); %d records stored in %v (%.0f runs/s)",
		submitted, bySubmit.Round(time.Millisecond), submitted/bySubmit.Seconds(),
		time.Duration(float64(bySubmit)*seededRuns/submitted).Round(time.Second), seededRuns,
		seededRuns-submitted, byStore.Round(time.Millisecond), float64(seededRuns-submitted)/byStore.Seconds())

	signIn(b, ctx, f.signIn)
	timeToInteractive(b, ctx, f.console+"/runs", "runs")
}

// noopBook is a run with one log task: no job for a worker.
const noopBook = `name: noop
version: "1.0.0"
author: "browser tests"
description: "Does nothing"
tasks:
  - log:
      message: "nothing to do"
`

// seedRuns stores n finished run records in f's runs bucket, with the coordinator's credential
// (only coordinators write that bucket), 32 at a time. Ids are UUIDv7 as coordinators make them,
// CreatedAt the id's time; statuses, playbooks and submitters vary.
func seedRuns(tb testing.TB, f *fleet, n int) {
	tb.Helper()
	setup, err := auth.Load(filepath.Join(f.dataDir, "auth"))
	if err != nil {
		tb.Fatal(err)
	}
	creds := setup.CredsPath(auth.RoleCoordinator)
	key, err := auth.UserKey(creds)
	if err != nil {
		tb.Fatal(err)
	}
	pub, _ := key.PublicKey()
	nc, err := nats.Connect(f.natsURL, nats.UserCredentials(creds), nats.CustomInboxPrefix(auth.InboxPrefix(pub)))
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	runs, err := kvstore.OpenRuns(ctx, js)
	if err != nil {
		tb.Fatal(err)
	}
	statuses := []protocol.RunStatus{protocol.StatusSuccess, protocol.StatusSuccess, protocol.StatusSuccess, protocol.StatusSuccess,
		protocol.StatusSuccess, protocol.StatusSuccess, protocol.StatusSuccess, protocol.StatusSuccess, protocol.StatusFailed, protocol.StatusCancelled}
	playbooks := []string{"web_cluster_upgrade", "rotate_logs", "db_backup", "patch_kernel", "noop"}
	submitters := []string{"alice", "bob", "deploybot"}
	work := make(chan int)
	errs := make(chan error, 1) // the first error is enough
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Go(func() {
			for i := range work {
				id, err := uuid.NewV7()
				if err != nil {
					report(errs, err)
					continue
				}
				created := time.UnixMilli(int64(bin.BigEndian.Uint64(id[:8]) >> 16)).UTC()
				st := statuses[i%len(statuses)]
				rec := &protocol.RunRecord{
					Version: protocol.RunVersion, ID: id.String(),
					Playbook: protocol.PlaybookRef{Name: playbooks[i%len(playbooks)], Version: "1.0.0"},
					Document: noopBook, Status: st, SubmittedBy: protocol.Identity{Name: submitters[i%len(submitters)]},
					Steps: []protocol.StepRecord{{Seq: 1, Key: "tasks[0]", List: "tasks", Type: "log", Description: "nothing to do",
						Attempt: 1, Done: true, Success: st == protocol.StatusSuccess, Msg: "nothing to do", StartedAt: created, EndedAt: created.Add(time.Second)}},
					CreatedAt: created, StartedAt: created, EndedAt: created.Add(time.Duration(1+i%60) * time.Second),
				}
				if st == protocol.StatusFailed {
					rec.Error = "task 1 failed"
				}
				if _, err := runs.Create(ctx, rec); err != nil {
					report(errs, fmt.Errorf("seed run %d: %w", i, err))
				}
			}
		})
	}
	go func() {
		defer close(work)
		for i := 0; i < n; i++ {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// report keeps err if errs has room; later errors are dropped (the first says enough).
func report(errs chan<- error, err error) {
	select {
	case errs <- err:
	default:
	}
}
