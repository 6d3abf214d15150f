package worker

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/task"
)

// Timings of the calls made around a job. They are not options: they bound network round trips,
// not anything a user tunes.
const (
	// callTimeout bounds one round trip to the server (result lookup, publish).
	callTimeout = 5 * time.Second
	// publishPatience is how long a result publish is tried before the job is handed back. It is
	// long because giving up means running the job again: a result that cannot be stored while the
	// servers have lost their quorum for a while must be stored once they have it back.
	publishPatience = 2 * time.Minute
	// maxPublishBackoff caps the pause between two tries of a result publish.
	maxPublishBackoff = time.Second
	// retryLater is the Nak delay when the job could not be dealt with because the server did not
	// answer: long enough not to spin, short enough not to matter next to a step.
	retryLater = time.Second
)

// settlement is how a delivered job leaves this worker.
type settlement int

const (
	// ackJob: the job has its result; it is done.
	ackJob settlement = iota
	// nakNow: the job has no result and must go to another worker at once.
	nakNow
	// nakLater: the server failed us; the job comes back after retryLater.
	nakLater
	// termJob: the job is answered (or can never be) and must not come back.
	termJob
	// nakHeld: another worker still runs the job; look again after AckWait.
	nakHeld
	// leaveJob: this worker lost the job's lease; the message belongs to another delivery now and
	// is left alone.
	leaveJob
)

// handle deals with one delivered job, start to finish: it always ends in exactly one of Ack,
// Nak or Term, sent after the heartbeat has stopped so no InProgress follows it. hard is the
// session's context that ends with the shutdown grace.
func (s *session) handle(hard context.Context, log *slog.Logger, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		log.Error("job message without JetStream metadata", "subject", msg.Subject(), "error", err)
		_ = msg.TermWithReason("no JetStream metadata")
		return
	}
	log = log.With("subject", msg.Subject(), "delivery", md.NumDelivered, "stream_seq", md.Sequence.Stream)
	s.w.opts.metrics.JobStarted(s.w.opts.pool)
	defer s.w.opts.metrics.JobEnded(s.w.opts.pool)

	// The job's own context: killed at the end of the shutdown grace, when the job's run is
	// cancelled, or when another worker took the job over from this one.
	jctx, stopJob := context.WithCancelCause(hard)
	defer stopJob(nil)
	// Heartbeat from the start: the lookup and publish round trips count against AckWait too.
	// Once this worker holds the job, every heartbeat renews its attempt record as well.
	var held atomic.Pointer[hold]
	renew := func() error {
		if h := held.Load(); h != nil {
			return s.renew(hard, h)
		}
		return nil
	}
	stop := startHeartbeat(msg, s.w.opts.heartbeat(), s.w.opts.ackWait, log, renew, func() { stopJob(errTakenOver) })
	how, reason := s.process(hard, jctx, log, msg, &held)
	stop()

	switch how {
	case ackJob:
		s.ack(log, msg)
	case nakNow:
		_ = msg.Nak()
	case nakLater:
		_ = msg.NakWithDelay(retryLater)
	case nakHeld:
		_ = msg.NakWithDelay(s.w.opts.ackWait)
	case termJob:
		_ = msg.TermWithReason(reason)
	case leaveJob:
	}
}

// process decides a delivered job: it runs it if this worker may (see start and takeOver) and publishes its
// result, and says how the message is to be settled (with the Term reason, for termJob). The job
// runs under jctx, its own context; the round trips around it derive from hard, the session's
// context that ends with the shutdown grace, without its cancellation. held receives this
// worker's hold on the job once it has one, for the heartbeat to renew.
func (s *session) process(hard, jctx context.Context, log *slog.Logger, msg jetstream.Msg, held *atomic.Pointer[hold]) (settlement, string) {
	job, err := decodeJob(msg.Data())
	if err != nil {
		return s.refuse(hard, log, msg.Subject(), err)
	}
	log = log.With("job", job.ID.String(), "type", job.Type)
	// Tracked from the moment it is known: a cancel coming while the result is looked up still
	// reaches it.
	jctx, done := s.cancels.track(jctx, job.ID.RunID)
	defer done()

	// A job whose attempt record this delivery creates was never started, so it has no result
	// and runs at once (see attempt.go). A job started before may have its result stored by a
	// holder that died before acknowledging: running it again would repeat its effects.
	outcome, h, existed := s.start(hard, log, job.ID)
	if existed {
		if how, found := s.answered(hard, log, job); found {
			return how, ""
		}
		outcome, h = s.takeOver(hard, log, job.ID)
	}
	switch outcome {
	case claimWait:
		return nakHeld, ""
	case claimRetry:
		return nakLater, ""
	case claimAbandon:
		res := s.env.NewResult(job, time.Now().UTC())
		res.Msg = fmt.Sprintf("abandoned after %d starts: every worker that ran it stopped without a result", h.att.Starts)
		res.ExitCode = -1
		log.Warn("abandoning a job started too often", "starts", h.att.Starts, "max_deliveries", s.w.opts.maxDeliveries)
		if !s.publish(hard, log, res) {
			return nakLater, ""
		}
		return termJob, res.Msg
	}
	held.Store(h)
	if h.att.Starts > 1 {
		// Taken over: the previous holder may have stored its result just before going silent.
		if how, found := s.answered(hard, log, job); found {
			return how, ""
		}
	}

	revealed, secrets, err := s.revealSecrets(hard, msg.Data(), job)
	if permanentSecretsError(err) {
		// Trying again opens the same ciphertext with the same keys: the step fails, saying why
		// (the error names the run and input, never a value).
		res := s.env.NewResult(job, time.Now().UTC())
		res.Msg = "the job's sensitive values could not be opened: " + err.Error()
		log.Warn("the job's sensitive values could not be opened", "error", err)
		if !s.publish(hard, log, res) {
			s.release(hard, log, h)
			return nakLater, ""
		}
		return ackJob, ""
	}
	if err != nil {
		log.Warn("reading the job's sensitive inputs failed, retrying later", "error", err)
		s.release(hard, log, h)
		return nakLater, ""
	}
	job = revealed

	log.Debug("running job", "starts", h.att.Starts)
	res, err := s.executeTracked(jctx, job)
	res.Result = redactSealed(job, scrubResult(res.Result, secrets))
	switch cause := context.Cause(jctx); {
	case errors.Is(cause, errTakenOver):
		// Another worker holds the job now and runs it: this copy, stopped as soon as that was
		// known, must not compete with it.
		log.Warn("job taken over by another worker: dropping this copy")
		return leaveJob, ""
	case errors.Is(res.cause, errRunCancelled):
		out := cancelledResult(res.Result, res.cause)
		if out.ID.RunID == "" {
			out = cancelledResult(s.env.NewResult(job, time.Now().UTC()), res.cause)
		}
		log.Info("job stopped: its run was cancelled")
		if !s.publish(hard, log, out) {
			return nakLater, ""
		}
		return ackJob, ""
	}
	if errors.Is(err, task.ErrInterrupted) {
		// No result: give the job straight back, released, so another worker starts it without
		// waiting for AckWait or for the record to go stale.
		log.Warn("job killed at shutdown, handing it back")
		s.release(hard, log, h)
		return nakNow, ""
	}
	// The result is published even when the job was taken over while it was being stored: it ran
	// to its end here, and a taker looks for the result after taking over, before it runs.
	if !s.publish(hard, log, res.Result) {
		// The effects may have happened, but without a result nobody can know: running again is
		// the at-least-once promise.
		s.release(hard, log, h)
		return nakLater, ""
	}
	s.w.opts.metrics.JobRan(s.w.opts.pool, job.Type, res.Success)
	log.Info("job finished", "success", res.Success, "msg", res.Msg)
	return ackJob, ""
}

// answered looks for job's result: found, the job is acknowledged without running (ackJob);
// a failed lookup hands the job back for later (nakLater).
func (s *session) answered(hard context.Context, log *slog.Logger, job *protocol.Job) (settlement, bool) {
	exists, err := s.resultExists(hard, log, job)
	switch {
	case err != nil:
		log.Warn("looking up an earlier result failed, retrying later", "error", err)
		return nakLater, true
	case exists:
		log.Info("job already has a result, acknowledging without running it")
		return ackJob, true
	}
	return 0, false
}

// decodeJob parses a job and refuses what this worker cannot understand. Unknown fields are
// tolerated: a version may grow optional fields.
func decodeJob(data []byte) (*protocol.Job, error) {
	var job protocol.Job
	if err := json.Unmarshal(data, &job); err != nil {
		return nil, fmt.Errorf("job is not valid JSON: %w", err)
	}
	if job.Version != protocol.JobVersion {
		return nil, fmt.Errorf("job version %d is not supported (this worker speaks version %d)", job.Version, protocol.JobVersion)
	}
	if !protocol.ValidToken(job.ID.RunID) {
		return nil, fmt.Errorf("job run id %q is not a valid subject token", job.ID.RunID)
	}
	return &job, nil
}

// refuse settles a job that can never succeed anywhere. When the subject still names the job, a
// failed Result is published first so the coordinator waiting for it fails the step at once
// instead of waiting forever.
func (s *session) refuse(hard context.Context, log *slog.Logger, subject string, cause error) (settlement, string) {
	reason := "undecodable job: " + cause.Error()
	log.Error("refusing job", "error", cause)
	if id, ok := jobIDFromSubject(subject, s.w.opts.pool); ok {
		res := s.env.NewResult(&protocol.Job{ID: id}, time.Now().UTC())
		res.Msg = reason
		res.ExitCode = -1
		if !s.publish(hard, log, res) {
			return nakLater, ""
		}
	}
	return termJob, reason
}

// jobIDFromSubject recovers a job's ID from its subject (protocol.JobsSubjectPattern), for jobs
// whose body cannot be read.
func jobIDFromSubject(subject, pool string) (protocol.JobID, bool) {
	prefix := strings.TrimSuffix(fmt.Sprintf(protocol.JobsPoolWildcardPattern, pool), ">")
	rest, ok := strings.CutPrefix(subject, prefix)
	if !ok {
		return protocol.JobID{}, false
	}
	tok := strings.Split(rest, ".")
	if len(tok) != 4 || !protocol.ValidToken(tok[0]) {
		return protocol.JobID{}, false
	}
	var n [3]int
	for i, s := range tok[1:] {
		v, err := strconv.Atoi(s)
		if err != nil {
			return protocol.JobID{}, false
		}
		n[i] = v
	}
	return protocol.JobID{RunID: tok[0], Step: n[0], Attempt: n[1], Batch: n[2]}, true
}

// tracked is the outcome of an execution and, when its run was cancelled while it ran, why.
type tracked struct {
	protocol.Result
	cause error
}

// executeTracked runs the job's task under jctx, the job's own context, and says whether the job's
// run was cancelled meanwhile. A job whose run is cancelled already is not started.
func (s *session) executeTracked(jctx context.Context, job *protocol.Job) (tracked, error) {
	if cause := context.Cause(jctx); errors.Is(cause, errRunCancelled) {
		return tracked{cause: cause}, nil
	}
	res, err := task.Execute(jctx, s.env, job)
	if cause := context.Cause(jctx); errors.Is(cause, errRunCancelled) {
		return tracked{Result: res, cause: cause}, nil
	}
	return tracked{Result: res}, err
}

// resultExists reports whether a result of job is already in the results stream. When the job
// carries a result token, a stored result without it was not produced for the job (a forged one,
// which the coordinator refuses): it does not count, or the job would never run.
func (s *session) resultExists(ctx context.Context, log *slog.Logger, job *protocol.Job) (bool, error) {
	// Not cancelled with ctx: a job pulled just before the grace ends is still handled properly.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	raw, err := s.results.GetLastMsgForSubject(cctx, protocol.ResultSubject(job.ID))
	switch {
	case err == nil && job.ResultToken != "":
		var res protocol.Result
		if protocol.DecodeResult(raw.Data, &res) != nil || subtle.ConstantTimeCompare([]byte(res.Token), []byte(job.ResultToken)) != 1 {
			log.Warn("ignoring a stored result not bound to this job", "worker", res.Worker)
			return false, nil
		}
		return true, nil
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	}
	return false, err
}

// publish stores res in the results stream, retrying because a lost result would make the job
// run again: for publishPatience, or until hard, the session's context that ends with the
// shutdown grace, is done. A result must be stored whatever stopped its job, so each try derives
// from hard without its cancellation and is bounded by callTimeout alone. The job id is the
// Nats-Msg-Id, so a retry whose first try did land is a no-op.
func (s *session) publish(hard context.Context, log *slog.Logger, res protocol.Result) bool {
	data, err := protocol.EncodeResult(&res)
	if err != nil {
		// Data is a string and the rest are plain fields: this cannot happen, but if it did no
		// retry would help.
		log.Error("encoding result failed", "error", err)
		return false
	}
	subject := protocol.ResultSubject(res.ID)
	backoff := 100 * time.Millisecond
	giveUp := time.Now().Add(publishPatience)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(hard), callTimeout)
		_, err = s.js.Publish(ctx, subject, data,
			jetstream.WithMsgID(res.ID.String()),
			jetstream.WithExpectStream(protocol.ResultsStreamName))
		cancel()
		if err == nil {
			return true
		}
		if time.Now().After(giveUp) || hard.Err() != nil {
			log.Error("publishing result failed, handing the job back", "attempts", attempt, "error", err)
			return false
		}
		log.Warn("publishing result failed, retrying", "attempt", attempt, "error", err)
		time.Sleep(backoff)
		backoff = min(2*backoff, maxPublishBackoff)
	}
}

// ack acknowledges the job without waiting for the server to confirm: the result is stored
// already, so an acknowledgement that is lost only brings the job back, and the delivery that
// brings it finds the result and acknowledges it without running it. Waiting would hold the slot
// for a round trip per job and buys nothing.
func (s *session) ack(log *slog.Logger, msg jetstream.Msg) {
	if err := msg.Ack(); err != nil {
		log.Warn("acknowledging job failed; a redelivery will find its result", "error", err)
	}
}
