package kvstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// retentionFixture is a provisioned server with helpers to make runs of a given age.
type retentionFixture struct {
	t        *testing.T
	js       jetstream.JetStream
	runs     *Runs
	subs     *Submissions
	attempts *Attempts
}

func newRetentionFixture(t *testing.T) *retentionFixture {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	if err := Provision(t.Context(), js, Config{}); err != nil {
		t.Fatal(err)
	}
	runs, err := OpenRuns(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := OpenSubmissions(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	attempts, err := OpenAttempts(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	return &retentionFixture{t: t, js: js, runs: runs, subs: subs, attempts: attempts}
}

// run stores a run created at created with status, ended at ended (zero: not ended), with its
// idempotency key, one event, one job result and its attempt record, and returns its id.
func (f *retentionFixture) run(created time.Time, status protocol.RunStatus, ended time.Time) string {
	f.t.Helper()
	u := uuidV7At(created)
	id, key := u.String(), "key-"+u.String()
	ctx := f.t.Context()
	if _, _, err := f.subs.Claim(ctx, key, Submission{RunID: id, RequestHash: "h"}); err != nil {
		f.t.Fatal(err)
	}
	rec := &protocol.RunRecord{ID: id, IdempotencyKey: key, Status: status, CreatedAt: created, EndedAt: ended}
	if _, err := f.runs.Create(ctx, rec); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.js.Publish(ctx, protocol.EventSubject(id), []byte(`{}`)); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.js.Publish(ctx, protocol.ResultSubject(resultOf(id)), []byte(`{}`)); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.attempts.Start(ctx, resultOf(id), protocol.Attempt{Worker: "w", Token: "t", Starts: 1}); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// resultOf is the job whose result the fixture stores for run id.
func resultOf(id string) protocol.JobID {
	return protocol.JobID{RunID: id, Step: 1, Attempt: 1, Batch: 3}
}

// kept reports whether the run's record, idempotency key, events, results and attempt records are all still
// there, or all gone; anything in between fails the test.
func (f *retentionFixture) kept(id string) bool {
	f.t.Helper()
	ctx := f.t.Context()
	_, _, err := f.runs.Get(ctx, id)
	record := !errors.Is(err, ErrNotFound)
	sub, claimed, err := f.subs.Claim(ctx, "key-"+id, Submission{RunID: "probe", RequestHash: "h"})
	if err != nil {
		f.t.Fatal(err)
	}
	key := !claimed && sub.RunID == id
	events, err := f.js.Stream(ctx, protocol.EventsStreamName)
	if err != nil {
		f.t.Fatal(err)
	}
	_, err = events.GetLastMsgForSubject(ctx, protocol.EventSubject(id))
	event := err == nil
	results, err := f.js.Stream(ctx, protocol.ResultsStreamName)
	if err != nil {
		f.t.Fatal(err)
	}
	_, err = results.GetLastMsgForSubject(ctx, protocol.ResultSubject(resultOf(id)))
	result := err == nil
	_, err = f.attempts.Get(ctx, resultOf(id))
	attempt := err == nil
	if record != key || record != event || record != result || record != attempt {
		f.t.Fatalf("run %s half pruned: record %v, idempotency key %v, events %v, results %v, attempt records %v", id, record, key, event, result, attempt)
	}
	return record
}

// uuidV7At is a random UUIDv7 stamped with t, as a run created at t has for its id.
func uuidV7At(t time.Time) uuid.UUID {
	u := uuid.New() // random bits
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (8 * (5 - i)))
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u
}

func TestPruneDeletesOnlyRunsEndedBeforeTheCutoff(t *testing.T) {
	f := newRetentionFixture(t)
	now := time.Now()
	old, recent := now.Add(-48*time.Hour), now.Add(-time.Hour)
	cutoff := now.Add(-24 * time.Hour)

	endedLongAgo := f.run(old, protocol.StatusSuccess, old.Add(time.Minute))
	failedLongAgo := f.run(old, protocol.StatusFailed, old.Add(time.Minute))
	stillRunning := f.run(old, protocol.StatusRunning, time.Time{})
	endedRecently := f.run(old, protocol.StatusSuccess, recent)
	createdRecently := f.run(recent, protocol.StatusSuccess, recent.Add(time.Minute))

	ret, err := OpenRetention(t.Context(), f.js)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ret.Prune(t.Context(), cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pruned != 2 || !res.Complete {
		t.Errorf("pruned %d complete %v, want 2 true", res.Pruned, res.Complete)
	}
	for id, want := range map[string]bool{
		endedLongAgo: false, failedLongAgo: false,
		stillRunning: true, endedRecently: true, createdRecently: true,
	} {
		if got := f.kept(id); got != want {
			t.Errorf("run %s kept %v, want %v", id, got, want)
		}
	}
	// Nothing is left of the pruned records but a purge marker, which expires (run indexes
	// learn of the removal from it).
	info, err := f.runs.kv.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Values() != 3+2 {
		t.Errorf("runs bucket holds %d values, want the 3 kept and 2 markers", info.Values())
	}
	stream, err := f.js.Stream(t.Context(), protocol.BucketStreamName(protocol.RunsBucket))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{endedLongAgo, failedLongAgo} {
		m, err := stream.GetLastMsgForSubject(t.Context(), protocol.BucketSubject(protocol.RunsBucket, id))
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("KV-Operation") != "PURGE" || m.Header.Get(jetstream.MsgTTLHeader) == "" || len(m.Data) != 0 {
			t.Errorf("run %s left %v %q, want only an expiring purge marker", id, m.Header, m.Data)
		}
	}
	// A second pass finds nothing more to do.
	if res, err := ret.Prune(t.Context(), cutoff); err != nil || res.Pruned != 0 {
		t.Errorf("second prune: %+v %v", res, err)
	}
}

func TestPruneStopsWhenItsTimeIsUp(t *testing.T) {
	f := newRetentionFixture(t)
	old := time.Now().Add(-48 * time.Hour)
	f.run(old, protocol.StatusSuccess, old)
	ret, err := OpenRetention(t.Context(), f.js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := ret.Prune(ctx, time.Now())
	if res.Complete || res.Pruned != 0 {
		t.Errorf("prune with its context ended: %+v %v", res, err)
	}
}
