package coordinator

import (
	"context"
	"fmt"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// walk runs the task lists with Choria's semantics:
//
//	node sets are discovered first; if that fails, on_fail and post_book run and the run fails
//	if pre_book fails: the run fails at once (nothing was changed yet; no on_fail, no post_book)
//	ok = tasks, each wrapped in the pre_task and post_task lists, stopping at the first failure
//	ok ? on_success decides the outcome : on_fail runs for its side effects only
//	post_book runs last; if it fails, the run fails
//
// Within a list tasks run one after another and the list stops at the first failure. It returns
// whether the run succeeded and, if not, what failed first.
func (d *driver) walk(ctx context.Context) (protocol.RunStatus, string, error) {
	sctx, halt, stop := d.watchHalt(ctx)
	ok, failure, err := d.walkLists(sctx, halt)
	stop()
	// Locks are released however the walk ended: a coordinator taking the run over takes them
	// again before it goes on.
	defer d.releaseLocks(ctx)
	if reason := haltReason(sctx); reason != "" && ctx.Err() == nil && (err != nil || !ok) {
		// Stopped: what was in flight is ended, then the failure hooks run (outside the halted
		// context) and the run ends cancelled.
		if err := d.stopInFlight(ctx, reason); err != nil {
			return "", "", err
		}
		if err := d.runFailureHooks(ctx); err != nil {
			return "", "", err
		}
		return protocol.StatusCancelled, reason, nil
	}
	switch {
	case err != nil:
		return "", "", err
	case ok:
		return protocol.StatusSuccess, "", nil
	}
	return protocol.StatusFailed, failure, nil
}

// walkLists walks the playbook: preparation, then the task lists.
func (d *driver) walkLists(ctx context.Context, halt context.CancelCauseFunc) (bool, string, error) {
	failure, err := d.prepare(ctx, halt)
	if err != nil {
		return false, "", err
	}
	if failure != "" {
		// Nothing of the playbook ran, but the operator's failure handling must: on_fail and
		// post_book run as after a failed task.
		return false, failure, d.runFailureHooks(ctx)
	}
	ok, failure, err := d.runList(ctx, playbooks.ListPreBook, "")
	if err != nil || !ok {
		return false, failure, err
	}
	if ok, failure, err = d.runMain(ctx); err != nil {
		return false, "", err
	}
	if ok {
		if ok, failure, err = d.runList(ctx, playbooks.ListOnSuccess, ""); err != nil {
			return false, "", err
		}
	} else if _, _, err := d.runList(ctx, playbooks.ListOnFail, ""); err != nil {
		return false, "", err
	}
	postOK, postFailure, err := d.runList(ctx, playbooks.ListPostBook, "")
	if err != nil {
		return false, "", err
	}
	if !postOK && ok {
		ok, failure = false, postFailure
	}
	return ok, failure, nil
}

// runFailureHooks runs on_fail then post_book after the run failed before its tasks.
func (d *driver) runFailureHooks(ctx context.Context) error {
	if _, _, err := d.runList(ctx, playbooks.ListOnFail, ""); err != nil {
		return err
	}
	_, _, err := d.runList(ctx, playbooks.ListPostBook, "")
	return err
}

// runMain runs the tasks list, each task between its pre_task and post_task hooks.
func (d *driver) runMain(ctx context.Context) (bool, string, error) {
	for i, task := range d.pb.Tasks {
		key := fmt.Sprintf("tasks[%d]", i)
		ok, failure, err := d.runList(ctx, playbooks.ListPreTask, key+".")
		if err != nil {
			return false, "", err
		}
		if !ok {
			return false, fmt.Sprintf("%s: pre_task hook failed: %s", key, failure), nil
		}
		st, err := d.step(ctx, key, playbooks.ListTasks, task)
		if err != nil {
			return false, "", err
		}
		// Choria runs post_task after the task whatever its outcome; a failing hook fails the task.
		postOK, postFailure, err := d.runList(ctx, playbooks.ListPostTask, key+".")
		if err != nil {
			return false, "", err
		}
		if !st.Success {
			return false, describeFailure(st), nil
		}
		if !postOK {
			return false, fmt.Sprintf("%s: post_task hook failed: %s", key, postFailure), nil
		}
	}
	return true, "", nil
}

// runList runs one list until its first failing task. prefix places hook lists run around a
// main task ("tasks[2].") so each hook run is a step of its own.
func (d *driver) runList(ctx context.Context, list playbooks.ListName, prefix string) (bool, string, error) {
	for i, task := range d.pb.List(list) {
		st, err := d.step(ctx, fmt.Sprintf("%s%s[%d]", prefix, list, i), list, task)
		if err != nil {
			return false, "", err
		}
		if !st.Success {
			return false, describeFailure(st), nil
		}
	}
	return true, "", nil
}

func describeFailure(st protocol.StepRecord) string {
	return fmt.Sprintf("%s (%s) failed: %s", st.Key, st.Description, st.Msg)
}
