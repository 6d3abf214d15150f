package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// maxRecordedData caps the task output kept in the run record (and so in reports): the record
// must stay well under the server's message size limit however many tasks a run has.
const maxRecordedData = 32 << 10

// step runs one task, with its tries, as the step named key, and returns its final record. A
// step the record already holds as done is not run again: its recorded outcome is returned.
func (d *driver) step(ctx context.Context, key string, list playbooks.ListName, task playbooks.Task) (protocol.StepRecord, error) {
	if d.find(key) == nil {
		fresh := d.newStep(key, list, task)
		var err error
		if fresh.RetryAt.IsZero() && !isLocal(task.Type) {
			// The step's first attempt is recorded in the same write that begins the step.
			err = d.dispatch(ctx, key, task, fresh)
		} else {
			err = d.update(ctx, func(rec *protocol.RunRecord) { ensureStep(rec, fresh) })
		}
		if err != nil {
			return protocol.StepRecord{}, err
		}
	}
	for {
		st := d.find(key)
		switch {
		case st.Done:
			return *st, nil
		case st.Job != nil:
			res, err := d.attempt(ctx, key, task, st.Job)
			if err != nil {
				return protocol.StepRecord{}, err
			}
			if err := d.apply(ctx, key, task, res); err != nil {
				return protocol.StepRecord{}, err
			}
		case time.Now().Before(st.RetryAt):
			if err := d.flush(ctx); err != nil {
				return protocol.StepRecord{}, err
			}
			if err := sleep(ctx, time.Until(st.RetryAt)); err != nil {
				return protocol.StepRecord{}, err
			}
		case isLocal(task.Type):
			res, err := d.runLocal(ctx, key, task)
			if err != nil {
				return protocol.StepRecord{}, err
			}
			if err := d.apply(ctx, key, task, res); err != nil {
				return protocol.StepRecord{}, err
			}
		default:
			if err := d.dispatch(ctx, key, task, nil); err != nil {
				return protocol.StepRecord{}, err
			}
		}
	}
}

// find returns the step named key in the current record, nil if it has not begun.
func (d *driver) find(key string) *protocol.StepRecord {
	for i := range d.rec.Steps {
		if d.rec.Steps[i].Key == key {
			return &d.rec.Steps[i]
		}
	}
	return nil
}

// newStep is the record of a step about to begin, numbered after the steps recorded so far. Its
// description is rendered once, when it starts.
func (d *driver) newStep(key string, list playbooks.ListName, task playbooks.Task) *protocol.StepRecord {
	seq := len(d.rec.Steps) + 1
	desc, err := playbooks.RenderString(task.Description, d.scope(seq))
	if err != nil {
		desc = task.Description
	}
	now := time.Now().UTC()
	st := &protocol.StepRecord{Seq: seq, Key: key, List: string(list), Type: task.Type, Description: desc, StartedAt: now,
		Register: task.Register}
	if task.PreSleep > 0 {
		// Recorded, so a coordinator taking over sleeps only what is left.
		st.RetryAt = now.Add(task.PreSleep)
	}
	return st
}

// ensureStep returns the step fresh names in rec, appending fresh first if it is not there. It is
// idempotent, as record mutations must be.
func ensureStep(rec *protocol.RunRecord, fresh *protocol.StepRecord) *protocol.StepRecord {
	for i := range rec.Steps {
		if rec.Steps[i].Key == fresh.Key {
			return &rec.Steps[i]
		}
	}
	st := *fresh
	st.Seq = len(rec.Steps) + 1
	rec.Steps = append(rec.Steps, st)
	return &rec.Steps[len(rec.Steps)-1]
}

// dispatch records the next attempt of a step, with its rendered job, then publishes the job.
// Recording first means a coordinator taking over knows the job may exist. fresh, when the step
// has not begun yet, is its record: it begins in the same write.
func (d *driver) dispatch(ctx context.Context, key string, task playbooks.Task, fresh *protocol.StepRecord) error {
	st := d.find(key)
	if st == nil {
		st = fresh
	}
	id := protocol.JobID{RunID: d.rec.ID, Step: st.Seq, Attempt: st.Attempt + 1}
	err := d.refreshStoreInputs(ctx)
	var job *protocol.Job
	if err == nil {
		job, err = d.render(task, id, st.Description, d.scope(st.Seq))
	}
	var refusal string
	var plan batchPlan
	if err == nil && job.Type == protocol.TaskRPC {
		plan, err = planOf(task, d.scope(st.Seq), d.c.opts.rpcChunk)
	}
	if err != nil {
		refusal = "could not render the task: " + err.Error()
	} else if job.Type == protocol.TaskRPC {
		refusal = d.checkRPC(ctx, job.RPC)
	}
	if refusal != "" {
		res := d.neverRan(id, refusal)
		if err := d.update(ctx, func(rec *protocol.RunRecord) { ensureStep(rec, st).Attempt = id.Attempt }); err != nil {
			return err
		}
		return d.finishStep(ctx, key, task, res)
	}
	batches, size := batching(job, plan)
	if err := d.update(ctx, func(rec *protocol.RunRecord) {
		s := ensureStep(rec, st)
		s.Attempt, s.Job, s.RetryAt = id.Attempt, job, time.Time{}
		s.Batches, s.BatchSize, s.DoneBatches, s.Nodes, s.NodesOK, s.NodesFailed = batches, size, nil, nil, 0, 0
		s.Summary = nil
	}); err != nil {
		return err
	}
	st = d.find(key)
	d.event(ctx, d.stepEvent(protocol.EventTaskStarted, st), fmt.Sprintf("%d/%d/started", st.Seq, id.Attempt))
	if job.Type == protocol.TaskRPC {
		return nil // attempt publishes the batches as their turn comes
	}
	d.dispatched[id] = true
	return d.publishJob(ctx, job)
}

// neverRan is the failed result of an attempt that never ran: its task could not be
// rendered or checked.
func (d *driver) neverRan(id protocol.JobID, msg string) *protocol.Result {
	now := time.Now().UTC()
	return &protocol.Result{ID: id, Msg: msg, ExitCode: -1, StartedAt: now, EndedAt: now}
}

// publishJob publishes job, signed when the coordinator has a signer (see signed), retrying
// until it is stored or ctx ends.
func (d *driver) publishJob(ctx context.Context, job *protocol.Job) error {
	// Before the first try: a try that fails may have been stored all the same.
	d.unanswered[job.ID] = true
	for {
		err := d.publishSigned(ctx, job)
		if err == nil {
			return nil
		}
		d.log.Warn("publishing job", "job", job.ID.String(), "error", err)
		if err := sleep(ctx, retryDelay); err != nil {
			return err
		}
	}
}

func (d *driver) publishSigned(ctx context.Context, job *protocol.Job) error {
	out, err := d.signed(ctx, job)
	if err != nil {
		return err
	}
	body, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode job %s: %w", job.ID, err)
	}
	_, err = d.c.js.Publish(ctx, protocol.JobSubject(protocol.DefaultPool, job.ID), body, jetstream.WithMsgID(job.ID.String()))
	return err
}

// await waits for the result of job.
func (d *driver) await(ctx context.Context, job *protocol.Job) (*protocol.Result, error) {
	var got *protocol.Result
	err := d.collect(ctx, []*protocol.Job{job}, func(res *protocol.Result) (bool, error) {
		got = res
		return true, nil
	})
	return got, err
}

// collect waits for the results of jobs and hands each to got as it comes, until every job has
// its result or got says to stop. Results normally arrive on the run's subscription; every
// reconcile interval, and at once for a job this driver did not publish itself, the streams are
// asked (and a job that was never published is published).
func (d *driver) collect(ctx context.Context, jobs []*protocol.Job, got func(*protocol.Result) (stop bool, err error)) error {
	// Nothing staged waits with the driver: a report read meanwhile shows the run as it is, and
	// a claim is stored before reconcile may publish a job.
	if err := d.flush(ctx); err != nil {
		return err
	}
	pending := make(map[string]*protocol.Job, len(jobs))
	for _, j := range jobs {
		pending[protocol.ResultSubject(j.ID)] = j
	}
	tick := time.NewTicker(d.c.opts.reconcile)
	defer tick.Stop()
	deliver := func(subject string, res *protocol.Result) (bool, error) {
		delete(d.unanswered, pending[subject].ID)
		delete(pending, subject)
		stop, err := got(res)
		return stop || len(pending) == 0, err
	}
	checkAll := false
	for len(pending) > 0 {
		for subject, j := range pending {
			if !checkAll && d.dispatched[j.ID] {
				continue
			}
			res, err := d.reconcile(ctx, j)
			if err != nil {
				return err
			}
			if res == nil {
				d.dispatched[j.ID] = true // known to be queued or running: wait for its result
				continue
			}
			if stop, err := deliver(subject, res); stop || err != nil {
				return err
			}
		}
		checkAll = false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			checkAll = true
		case m := <-d.results:
			if _, ok := pending[m.Subject]; !ok {
				continue // a late result of an earlier attempt, or of a batch already applied
			}
			var res protocol.Result
			if err := protocol.DecodeResult(m.Data, &res); err != nil {
				d.log.Error("undecodable result", "subject", m.Subject, "error", err)
				continue
			}
			if err := d.bound(pending[m.Subject], &res); err != nil {
				d.refusedResult(pending[m.Subject], &res, err)
				continue
			}
			if stop, err := deliver(m.Subject, &res); stop || err != nil {
				return err
			}
		}
	}
	return nil
}

// reconcile finds out what became of a dispatched job. The job stream is asked first: a worker
// publishes the result before it acknowledges the job, so a job gone from the job stream has its
// result in the result stream, unless it was never published, and only then is it published
// (again, under the same message id). It returns the result if there is one.
func (d *driver) reconcile(ctx context.Context, job *protocol.Job) (*protocol.Result, error) {
	_, err := d.c.jobs.GetLastMsgForSubject(ctx, protocol.JobSubject(protocol.DefaultPool, job.ID))
	switch {
	case err == nil:
		return nil, nil // queued or being run
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		d.log.Warn("looking up job", "job", job.ID.String(), "error", err)
		return nil, nil
	}
	raw, err := d.c.results.GetLastMsgForSubject(ctx, protocol.ResultSubject(job.ID))
	switch {
	case err == nil:
		var res protocol.Result
		if err := protocol.DecodeResult(raw.Data, &res); err != nil {
			return nil, fmt.Errorf("decode result of %s: %w", job.ID, err)
		}
		if err := d.bound(job, &res); err != nil {
			// The stream's last result on the subject is not the job's: wait for the real one,
			// which the run's subscription delivers.
			d.refusedResult(job, &res, err)
			return nil, nil
		}
		return &res, nil
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		d.log.Warn("looking up result", "job", job.ID.String(), "error", err)
		return nil, nil
	}
	d.log.Info("job was never published; publishing it", "job", job.ID.String())
	d.dispatched[job.ID] = true
	return nil, d.publishJob(ctx, job)
}

// apply records the result of a step's attempt: the step ends, or waits try_sleep for its next try.
func (d *driver) apply(ctx context.Context, key string, task playbooks.Task, res *protocol.Result) error {
	st := d.find(key)
	if res.Success || st.Attempt >= task.Tries {
		return d.finishStep(ctx, key, task, res)
	}
	delay := task.RetryDelay(st.Attempt, rand.Float64())
	retryAt := time.Now().UTC().Add(delay)
	if err := d.update(ctx, func(rec *protocol.RunRecord) {
		s := stepIn(rec, key)
		s.Job, s.RetryAt, s.Msg, s.Data = nil, retryAt, res.Msg, capData(res.Data)
	}); err != nil {
		return err
	}
	d.c.opts.metrics.StepRetried(task.Type)
	st = d.find(key)
	ev := d.stepEvent(protocol.EventTaskRetry, st)
	ev.Msg = fmt.Sprintf("try %d/%d failed: %s; next try in %s", st.Attempt, task.Tries, res.Msg, delay.Round(time.Millisecond))
	d.event(ctx, ev, fmt.Sprintf("%d/%d/retry", st.Seq, st.Attempt))
	return nil
}

// finishStep records a step's final outcome. fail_ok turns a failure into success after the last
// try, whatever the number of tries (Choria applied it only with tries: 1; see docs/playbooks.md).
//
// The end of a step whose result a worker published (its attempt has a job) is staged: the
// next write stores it (see record.go). Any other end is stored at once: a local task's result
// exists nowhere else.
func (d *driver) finishStep(ctx context.Context, key string, task playbooks.Task, res *protocol.Result) error {
	ended := time.Now().UTC()
	end := func(rec *protocol.RunRecord) {
		s := stepIn(rec, key)
		s.Job, s.RetryAt, s.Done = nil, time.Time{}, true
		s.Success = res.Success || task.FailOK
		s.Msg, s.Data, s.EndedAt = res.Msg, capData(res.Data), ended
		if !res.Success && task.FailOK {
			s.Msg += " (failure ignored: fail_ok)"
		}
	}
	counted := func() {
		st := d.find(key)
		d.c.opts.metrics.StepFinished(task.Type, st.Success, st.EndedAt.Sub(st.StartedAt))
	}
	if d.find(key).Job != nil {
		d.stage(end)
		d.count(counted)
	} else if err := d.update(ctx, end); err != nil {
		return err
	} else {
		counted()
	}
	st := d.find(key)
	ev := d.stepEvent(protocol.EventTaskFinished, st)
	ev.Success, ev.Msg, ev.Duration = st.Success, st.Msg, st.EndedAt.Sub(st.StartedAt)
	d.event(ctx, ev, fmt.Sprintf("%d/finished", st.Seq))
	return nil
}

// stepIn finds key in rec; the step exists, since begin recorded it first.
func stepIn(rec *protocol.RunRecord, key string) *protocol.StepRecord {
	for i := range rec.Steps {
		if rec.Steps[i].Key == key {
			return &rec.Steps[i]
		}
	}
	panic("coordinator: step " + key + " missing from run " + rec.ID)
}

// capData bounds the task output kept in the record.
func capData(v any) any {
	s, ok := v.(string)
	if !ok || len(s) <= maxRecordedData {
		return v
	}
	half := maxRecordedData / 2
	return fmt.Sprintf("%s\n[... %d bytes omitted ...]\n%s", s[:half], len(s)-2*half, s[len(s)-half:])
}
