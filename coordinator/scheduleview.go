package coordinator

import (
	"context"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/schedule"
)

// scheduleView is a coordinator's own copy of the schedules bucket, kept by a watch: evaluating
// thousands of schedules every tick then reads nothing from the server until one is due (and the
// compare-and-set that decides a slot always reads the stored schedule afresh, so a view that
// lags only delays an evaluation, it never decides on old state).
type scheduleView struct {
	mu     sync.Mutex
	ready  bool
	byName map[string]*viewedSchedule
}

// viewedSchedule is one schedule of the view with its compiled calendar (compiled once per spec,
// not at every evaluation).
type viewedSchedule struct {
	sc  *protocol.Schedule
	rev uint64
	cal *schedule.Calendar
	err error
}

func newScheduleView() *scheduleView {
	return &scheduleView{byName: map[string]*viewedSchedule{}}
}

// apply takes one change of the watch in.
func (v *scheduleView) apply(ch kvstore.ScheduleChange) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ch.Ready {
		v.ready = true
		return
	}
	if ch.Schedule == nil {
		delete(v.byName, ch.Name)
		return
	}
	old := v.byName[ch.Name]
	if old != nil && old.rev >= ch.Revision {
		return
	}
	vs := &viewedSchedule{sc: ch.Schedule, rev: ch.Revision}
	if old != nil && old.err == nil && reflect.DeepEqual(old.sc.Spec, ch.Schedule.Spec) {
		vs.cal = old.cal
	} else {
		vs.cal, vs.err = schedule.Compile(ch.Schedule.Spec)
	}
	v.byName[ch.Name] = vs
}

// reset forgets everything: the watch stopped, so the view is no longer kept.
func (v *scheduleView) reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ready = false
	clear(v.byName)
}

// snapshot returns the schedules of the view by name, and false while the view is not (or no
// longer) complete.
func (v *scheduleView) snapshot() ([]*viewedSchedule, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.ready {
		return nil, false
	}
	out := make([]*viewedSchedule, 0, len(v.byName))
	for _, vs := range v.byName {
		out = append(out, vs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sc.Name < out[j].sc.Name })
	return out, true
}

// followSchedules keeps view from the bucket's watch until ctx ends, calling changed after every
// change. A watch that stops is started again after a pause; meanwhile the view is not ready and
// the evaluation reads the bucket itself.
func (c *Coordinator) followSchedules(ctx context.Context, view *scheduleView, changed func()) {
	for ctx.Err() == nil {
		err := c.schedules.Follow(ctx, func(ch kvstore.ScheduleChange) {
			view.apply(ch)
			changed()
		})
		view.reset()
		if ctx.Err() != nil {
			return
		}
		c.opts.log.Warn("watching schedules; they are read from the bucket at every evaluation until the watch is back", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
