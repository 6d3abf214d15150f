package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// Task types the coordinator runs itself instead of sending them to a worker: they act only on
// the run (a log line) or on the coordinators' own API (a child run).
const (
	taskLog      = "log"
	taskPlaybook = playbooks.TypePlaybook
)

func isLocal(taskType string) bool { return taskType == taskLog || taskType == taskPlaybook }

// runLocal makes the next attempt of a task the coordinator runs itself and returns its result.
func (d *driver) runLocal(ctx context.Context, key string, task playbooks.Task) (*protocol.Result, error) {
	// A local task acts on the world (a child run, a log line): only a stored owner runs it.
	if err := d.flush(ctx); err != nil {
		return nil, err
	}
	st := d.find(key)
	id := protocol.JobID{RunID: d.rec.ID, Step: st.Seq, Attempt: st.Attempt + 1}
	if st.Child != "" && st.Job == nil && st.RetryAt.IsZero() {
		id.Attempt = st.Attempt // a child run was started by this attempt: wait for it
	}
	if id.Attempt != st.Attempt {
		if err := d.update(ctx, func(rec *protocol.RunRecord) {
			s := stepIn(rec, key)
			s.Attempt, s.RetryAt, s.Child = id.Attempt, time.Time{}, ""
		}); err != nil {
			return nil, err
		}
		st = d.find(key)
		d.event(ctx, d.stepEvent(protocol.EventTaskStarted, st), fmt.Sprintf("%d/%d/started", st.Seq, id.Attempt))
	}
	res := &protocol.Result{ID: id, StartedAt: time.Now().UTC()}
	err := d.refreshStoreInputs(ctx)
	var props map[string]any
	if err == nil {
		props, err = renderProps(task.Properties, d.scope(st.Seq))
	}
	if err != nil {
		res.Msg = "could not render the task: " + err.Error()
	} else if task.Type == taskLog {
		d.logTask(ctx, st, props, res)
	} else if err := d.playbookTask(ctx, key, task, props, res); err != nil {
		return nil, err
	}
	res.EndedAt = time.Now().UTC()
	return res, nil
}

// logTask writes a templated line into the run's log (its events) and report.
func (d *driver) logTask(ctx context.Context, st *protocol.StepRecord, props map[string]any, res *protocol.Result) {
	msg := d.scrub(ctx, fmt.Sprint(props["message"]))
	level, _ := props["level"].(string)
	if level == "" {
		level = "info"
	}
	ev := d.stepEvent(protocol.EventLog, st)
	ev.Msg = msg
	ev.Status = protocol.RunStatus(level)
	d.event(ctx, ev, fmt.Sprintf("%d/%d/log", st.Seq, st.Attempt))
	res.Success, res.Msg, res.Data = true, msg, map[string]any{"level": level, "message": msg}
}

// playbookTask starts another playbook as a child run and waits for its end. The child is
// submitted under an idempotency key made of this run, step and attempt, so a coordinator taking
// the run over finds the same child instead of starting a second one. The child is submitted by
// this run's submitter, and the policy is asked whether that identity may submit the child's
// playbook: a playbook task is no way around the policy.
func (d *driver) playbookTask(ctx context.Context, key string, task playbooks.Task, props map[string]any, res *protocol.Result) error {
	st := d.find(key)
	ref, _ := props["file"].(string)
	if ref == "" {
		ref, _ = props["name"].(string)
	}
	doc, ok := d.rec.Files[ref]
	if !ok {
		res.Msg = fmt.Sprintf("playbook %q was not submitted with the run", ref)
		return nil
	}
	inputs, err := d.childInputs(doc, props)
	if err != nil {
		res.Msg = err.Error()
		return nil
	}
	// The child keeps its own copy of any sensitive value it is given, sensitive in the child
	// whatever it declares, and scrubs this run's sensitive values from its outputs too.
	sensitive, scrub, err := d.childSecrets(ctx, inputs)
	if err != nil {
		return err
	}
	revealed, err := d.reveal(ctx, inputs)
	if err != nil {
		return err
	}
	inputs, _ = revealed.(map[string]any)
	resp, apiErr := d.c.submit(ctx, protocol.SubmitRequest{
		Version: protocol.SubmitVersion, Playbook: doc, Source: ref, Inputs: inputs, Files: d.rec.Files,
		IdempotencyKey: fmt.Sprintf("%s/%d/%d", d.rec.ID, st.Seq, st.Attempt), Parent: d.rec.ID,
		Timeout: task.Timeout, Sensitive: sensitive, Scrub: scrub,
	}, d.rec.SubmittedBy)
	if apiErr != nil {
		if apiErr.Code == protocol.CodeInternal {
			return apiErr // storage trouble: the step is tried again when the run is driven again
		}
		res.Msg = d.scrub(ctx, "child playbook refused: "+apiErr.Error())
		return nil
	}
	if st.Child != resp.RunID {
		if err := d.update(ctx, func(rec *protocol.RunRecord) { stepIn(rec, key).Child = resp.RunID }); err != nil {
			return err
		}
	}
	child, err := d.c.runs.WaitFinal(ctx, resp.RunID)
	if err != nil {
		return err
	}
	res.Success = child.Status == protocol.StatusSuccess
	// The child's error may hold references to its own secrets: they mean nothing here.
	childErr := d.scrub(ctx, child.Error)
	res.Msg = fmt.Sprintf("child run %s (%s) %s", child.ID, child.Playbook.Name, child.Status)
	if childErr != "" {
		res.Msg += ": " + childErr
	}
	res.Data = map[string]any{"run_id": child.ID, "status": string(child.Status), "error": childErr}
	return nil
}

// childInputs are the inputs a child run gets: the task's inputs map, on top of this run's own
// inputs (those the child declares) when the task inherits them.
func (d *driver) childInputs(doc string, props map[string]any) (map[string]any, error) {
	out := map[string]any{}
	inherit, _ := props["inherit_inputs"].(bool)
	if s, ok := props["inputs"].(string); ok && s == "inherit" {
		inherit = true
	}
	if inherit {
		child, err := playbooks.Parse([]byte(doc), d.c.opts.parse...)
		if err != nil {
			return nil, fmt.Errorf("child playbook: %w", err)
		}
		for _, in := range child.Inputs {
			if v, ok := d.rec.Inputs[in.Name]; ok {
				out[in.Name] = v
			}
		}
	}
	if m, ok := props["inputs"].(map[string]any); ok {
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// checkFiles refuses a submission whose playbook tasks name a playbook that is not attached.
func checkFiles(pb *playbooks.Playbook, files map[string]string) *protocol.ErrorResponse {
	var probs []protocol.Problem
	for _, list := range allLists {
		for i, t := range pb.List(list) {
			if t.Type != taskPlaybook {
				continue
			}
			ref, field := "", "file"
			if s, ok := t.Properties["file"].(string); ok {
				ref = s
			} else if s, ok := t.Properties["name"].(string); ok {
				ref, field = s, "name"
			}
			if _, ok := files[ref]; !ok && ref != "" {
				probs = append(probs, protocol.Problem{
					Path: fmt.Sprintf("%s[%d].playbook.%s", listPath(list), i, field), Line: t.Line,
					Message: fmt.Sprintf("playbook %q was not found next to the playbook (looked for %q)", ref, ref),
				})
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return &protocol.ErrorResponse{Code: protocol.CodeInvalidPlaybook, Message: "invalid playbook: a child playbook is missing", Problems: probs}
}
