package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// Who may run a job (docs/reliability.md, "One holder per job"):
//
//   - A job runs only on the worker that holds its attempt record (kvstore.Attempts). The first
//     worker handed the job creates the record with KV Create before anything of the job runs;
//     every later delivery finds it, and does not run the job while its holder lives.
//   - The holder renews its record on every heartbeat, a compare-and-set on its revision, for as
//     long as the job runs and its result is being stored: a live holder that reaches the server
//     changes its record every AckWait/3.
//   - A record is stale when this worker saw the same revision staleAfter ago, on an earlier
//     delivery: the holder has not renewed it for that long (it died, or lost the server). Only
//     then is the job taken over, again by compare-and-set, so of several takers one wins and the
//     holder's next renewal fails, which stops its copy.
//   - A record its holder released (it handed the job back without a result) is taken over at
//     once.
//   - Every takeover counts a start; a job started maxDeliveries times is answered "abandoned"
//     instead of being started again, so a job that kills its workers cannot go round forever.
//   - A job's result is stored only by the worker holding its record (or, for a job no worker
//     can decode, by the worker refusing it, which never runs it), and the record is kept as long
//     as the result: both are pruned with the run, the results first (kvstore.Retention). So a
//     job whose record a delivery creates has no result yet, and runs without looking for one;
//     a delivery that finds the record looks for the result before anything else.
//
// Nothing here depends on how quickly a holder answers: a holder that is slow, paused or cut off
// keeps its job until it has been silent for staleAfter, and then loses it by a compare-and-set
// it cannot win afterwards.

// minStaleAfter is the shortest silence after which a holder's job is taken over, whatever
// AckWait: a worker that lost its server needs a few seconds to reconnect and renew.
const minStaleAfter = 5 * time.Second

// staleAfter is how long a holder's record must stay unchanged before its job is taken over:
// three AckWaits, nine missed renewals, and never less than minStaleAfter.
func (o *options) staleAfter() time.Duration { return max(3*o.ackWait, o.staleFloor) }

// claimOutcome says what a delivery may do with its job.
type claimOutcome int

const (
	// claimRun: this worker holds the job now and runs it.
	claimRun claimOutcome = iota
	// claimWait: another worker holds the job; look again after AckWait.
	claimWait
	// claimRetry: the server failed us; look again soon.
	claimRetry
	// claimAbandon: this worker holds the job now, and the job was started too often to start it
	// again; it is answered "abandoned".
	claimAbandon
)

// hold is this worker's hold on a job: its attempt record and the record's revision.
type hold struct {
	id  protocol.JobID
	att protocol.Attempt
	mu  sync.Mutex
	rev uint64
}

func (h *hold) revision() uint64 { h.mu.Lock(); defer h.mu.Unlock(); return h.rev }

func (h *hold) setRevision(rev uint64) { h.mu.Lock(); h.rev = rev; h.mu.Unlock() }

// Whether a delivery may run job id (process): start creates the job's attempt record, and when
// it exists already, takeOver takes a stale or released one over.

// start creates job id's attempt record. It says claimRun with this worker's hold when the record
// is new, so the job was never started and has no result (see "One holder per job" above), and
// existed when the job was started before; claimRetry when the server did not answer.
func (s *session) start(ctx context.Context, log *slog.Logger, id protocol.JobID) (outcome claimOutcome, h *hold, existed bool) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	mine := protocol.Attempt{Worker: s.w.opts.name, Token: uuid.NewString(), Starts: 1}
	rev, err := s.attempts.Start(cctx, id, mine)
	switch {
	case err == nil:
		return claimRun, &hold{id: id, att: mine, rev: rev}, false
	case errors.Is(err, kvstore.ErrExists):
		return 0, nil, true
	}
	// The create may have landed without the reply reaching us: the record then bears our
	// token. Otherwise this delivery learns nothing and looks again.
	if rec, gerr := s.attempts.Get(cctx, id); gerr == nil && rec.Token == mine.Token {
		return claimRun, &hold{id: id, att: mine, rev: rec.Revision}, false
	}
	log.Warn("recording the job's start failed, retrying later", "error", err)
	return claimRetry, nil, false
}

// takeOver decides a job whose attempt record exists: it waits while the holder lives, and takes
// a stale or released record over.
func (s *session) takeOver(ctx context.Context, log *slog.Logger, id protocol.JobID) (claimOutcome, *hold) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rec, err := s.attempts.Get(cctx, id)
	if err != nil {
		// Not found: the record went in between (its run was pruned); the next look decides.
		log.Warn("reading the job's attempt record failed, retrying later", "error", err)
		return claimRetry, nil
	}
	key := protocol.AttemptKey(id)
	if !rec.Released && !s.seen.stale(key, rec.Revision, s.w.opts.staleAfter(), time.Now()) {
		log.Info("job delivered again but held by another worker; leaving it to it", "holder", rec.Worker, "starts", rec.Starts)
		return claimWait, nil
	}
	next := protocol.Attempt{Worker: s.w.opts.name, Token: uuid.NewString(), Starts: rec.Starts + 1}
	outcome := claimRun
	if rec.Starts >= s.w.opts.maxDeliveries {
		next.Starts, outcome = rec.Starts, claimAbandon
	}
	rev, err := s.attempts.Update(cctx, id, next, rec.Revision)
	switch {
	case errors.Is(err, kvstore.ErrConflict):
		// The holder renewed it, or another worker took it over first.
		return claimWait, nil
	case err != nil:
		log.Warn("taking the job over failed, retrying later", "error", err)
		return claimRetry, nil
	}
	s.seen.forget(key)
	if rec.Released {
		log.Info("taking over a job its holder handed back", "holder", rec.Worker, "starts", next.Starts)
	} else {
		log.Warn("taking over a job whose holder went silent", "holder", rec.Worker, "silent_for", s.w.opts.staleAfter(), "starts", next.Starts)
	}
	return outcome, &hold{id: id, att: next, rev: rev}
}

// renew refreshes h's record so that nobody takes the job over; it fails with
// kvstore.ErrConflict once somebody has.
func (s *session) renew(ctx context.Context, h *hold) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rev, err := s.attempts.Update(cctx, h.id, h.att, h.revision())
	if err != nil {
		return err
	}
	h.setRevision(rev)
	return nil
}

// release hands h's job back: the next worker handed the job takes it over at once instead of
// waiting for the record to go stale.
func (s *session) release(ctx context.Context, log *slog.Logger, h *hold) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	att := h.att
	att.Released = true
	if _, err := s.attempts.Update(cctx, h.id, att, h.revision()); err != nil {
		log.Warn("releasing the job failed; another worker takes it over once its record is stale", "error", err)
	}
}

// staleSeen remembers, per job, the revision of another worker's attempt record this worker last
// saw and since when, to tell a silent holder from a live one without trusting any clock but
// this process's own.
type staleSeen struct {
	mu   sync.Mutex
	seen map[string]seenRecord
}

type seenRecord struct {
	rev   uint64
	since time.Time
}

func newStaleSeen() *staleSeen { return &staleSeen{seen: map[string]seenRecord{}} }

// stale reports whether the record under key was at revision rev already after ago or earlier;
// otherwise it remembers rev from now. Entries not looked at for long are dropped on the way.
func (s *staleSeen) stale(key string, rev uint64, after time.Duration, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.seen[key]; ok && prev.rev == rev {
		return now.Sub(prev.since) >= after
	}
	for k, e := range s.seen {
		if now.Sub(e.since) > 10*after {
			delete(s.seen, k)
		}
	}
	s.seen[key] = seenRecord{rev: rev, since: now}
	return false
}

// forget drops what was remembered of key.
func (s *staleSeen) forget(key string) {
	s.mu.Lock()
	delete(s.seen, key)
	s.mu.Unlock()
}
