package coordinator

import (
	"context"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/schedule"
)

// scheduleEvaluationTimeout bounds the evaluation of one schedule: deciding its slots,
// submitting the runs decided and recording them.
const scheduleEvaluationTimeout = 3 * apiTimeout

// runSchedules evaluates every schedule until ctx ends: at the next slot due, at every change of
// a schedule (a watch on the bucket), and at least every schedule tick, to follow the schedules'
// runs. Every coordinator runs it; there is no leader to elect or lose (see firing.go).
func (c *Coordinator) runSchedules(ctx context.Context) {
	wake := make(chan struct{}, 1)
	view := newScheduleView()
	go c.followSchedules(ctx, view, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-wake:
		}
		next := c.evaluateSchedules(ctx, view)
		wait := c.opts.scheduleTick
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(c.opts.now()), time.Millisecond))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// evaluateSchedules evaluates every schedule once, at the clock's now, and returns the earliest
// fire time still to come (zero when none). The schedules come from view, or from the bucket
// while the view is not complete.
func (c *Coordinator) evaluateSchedules(ctx context.Context, view *scheduleView) time.Time {
	defer c.scheduleEvaluations.Add(1)
	list, ok := view.snapshot()
	if !ok {
		stored, err := c.schedules.List(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.opts.log.Warn("listing schedules", "error", err)
			}
			return time.Time{}
		}
		for _, sc := range stored {
			vs := &viewedSchedule{sc: sc}
			vs.cal, vs.err = schedule.Compile(sc.Spec)
			list = append(list, vs)
		}
	}
	var earliest time.Time
	for _, vs := range list {
		if ctx.Err() != nil {
			return earliest
		}
		next, err := c.evaluateSchedule(ctx, vs)
		if err != nil {
			c.opts.log.Warn("evaluating a schedule", "schedule", vs.sc.Name, "error", err)
		}
		if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
			earliest = next
		}
	}
	return earliest
}

// evaluateSchedule brings one schedule (as last seen) up to now and fires what it decided. It
// returns the schedule's next fire time.
func (c *Coordinator) evaluateSchedule(ctx context.Context, vs *viewedSchedule) (time.Time, error) {
	// One schedule's storage work is bounded, so a server that stops answering cannot hold the
	// evaluation of every other schedule; what was left undone is taken up at the next one.
	ctx, cancel := context.WithTimeout(ctx, scheduleEvaluationTimeout)
	defer cancel()
	now := c.opts.now().UTC()
	seen, cal := vs.sc, vs.cal
	if vs.err != nil {
		return time.Time{}, vs.err
	}
	next := nextFire(seen, cal)
	due := len(seen.State.Firing) > 0 || len(seen.State.Active) > 0 ||
		!seen.Paused && (len(seen.State.Buffered) > 0 || !next.IsZero() && !next.After(now))
	if !due {
		return next, nil
	}
	sc, err := c.changeCounted(ctx, seen.Name, func(sc *protocol.Schedule) (bool, error) {
		return c.advance(ctx, sc, now)
	})
	if err != nil {
		return next, err
	}
	if len(sc.State.Firing) > 0 {
		c.fireDecided(ctx, sc)
	}
	return nextFire(sc, cal), nil
}

// nextFire is when sc's calendar fires next after its cursor (jitter applied), zero when paused
// or when the calendar has no more slots.
func nextFire(sc *protocol.Schedule, cal *schedule.Calendar) time.Time {
	if sc.Paused {
		return time.Time{}
	}
	slot, ok := cal.Next(sc.State.Cursor)
	if !ok {
		return time.Time{}
	}
	return cal.FireTime(sc.UID, slot)
}
