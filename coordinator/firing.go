package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/schedule"
)

// How a slot becomes a run, exactly once, with every coordinator evaluating every schedule:
//
//  1. A coordinator decides what the due slots do (fire, skip, buffer, missed) and stores the
//     decision with a compare-and-set on the schedule: a slot to fire goes to State.Firing with
//     its idempotency key, made of the schedule's UID and the slot's time. Two coordinators
//     deciding at once cannot both win the compare-and-set, so a slot is decided once.
//  2. Whoever sees a slot in Firing submits its run through the ordinary submit path, with that
//     key: the key gives one run however many times, and by whichever coordinator, it is
//     submitted.
//  3. The run is recorded (Firing → Active and History) with another compare-and-set; the first
//     to record it counts it.
//
// A coordinator killed between 1 and 3 leaves the slot in Firing, and the next evaluation, on
// any coordinator, submits it again and gets the same run.

// maxSlotsPerEvaluation bounds the slots one evaluation of one schedule decides, so a schedule
// with a huge backlog (an every-second schedule after a week down) cannot hold a coordinator;
// the next evaluation goes on from where this one stopped.
const maxSlotsPerEvaluation = 10000

// missedDetail is how many missed slots one evaluation records one by one in the history; more
// are summed up in one record.
const missedDetail = 10

// maxBuffered bounds a schedule's buffered slots.
const maxBuffered = protocol.MaxBackfillSlots

// slotKey is the idempotency key of the run of a calendar slot: a backfill of that slot uses it
// too, so a slot never runs twice, whichever way it comes.
func slotKey(sc *protocol.Schedule, slot time.Time) string {
	return fmt.Sprintf("schedule/%s/%s/slot/%d", sc.Name, sc.UID, slot.UnixNano())
}

// triggerKey is the idempotency key of the run of a trigger with the client's key.
func triggerKey(sc *protocol.Schedule, key string) string {
	return fmt.Sprintf("schedule/%s/%s/trigger/%s", sc.Name, sc.UID, key)
}

// catchupWindow is how late a slot of sc may still fire.
func catchupWindow(sc *protocol.Schedule) time.Duration {
	if sc.Policies.CatchupWindow == "" {
		return protocol.DefaultCatchupWindow
	}
	d, err := schedule.ParseDuration(sc.Policies.CatchupWindow)
	if err != nil || d <= 0 {
		return protocol.DefaultCatchupWindow // checked when stored; a bad value cannot get here
	}
	return d
}

func overlapOf(p protocol.OverlapPolicy) protocol.OverlapPolicy {
	if p == "" {
		return protocol.OverlapSkip
	}
	return p
}

// busy reports whether a run of the schedule is going or about to start.
func busy(st *protocol.ScheduleState) bool { return len(st.Active) > 0 || len(st.Firing) > 0 }

// known reports whether the slot with key is already decided and not yet done with: firing or
// buffered.
func known(st *protocol.ScheduleState, key string) bool {
	has := func(p protocol.PendingSlot) bool { return p.Key == key }
	return slices.ContainsFunc(st.Firing, has) || slices.ContainsFunc(st.Buffered, has)
}

// record appends r to the history, keeping the newest protocol.ScheduleHistory records.
func record(st *protocol.ScheduleState, r protocol.SlotRecord) {
	st.History = append(st.History, r)
	if n := len(st.History) - protocol.ScheduleHistory; n > 0 {
		st.History = slices.Delete(st.History, 0, n)
	}
}

// advance brings sc's state up to now: it follows the schedule's active runs, starts a buffered
// slot whose turn came, and decides every calendar slot that is due. It only changes sc: runs it
// decides to start wait in State.Firing until the change is stored. It reports whether sc changed.
func (c *Coordinator) advance(ctx context.Context, sc *protocol.Schedule, now time.Time) (bool, error) {
	changed := c.followActive(ctx, sc)
	if sc.Paused {
		return changed, nil
	}
	if startBuffered(&sc.State, now) {
		changed = true
	}
	cal, err := schedule.Compile(sc.Spec)
	if err != nil {
		return changed, fmt.Errorf("schedule %s: %w", sc.Name, err)
	}
	st := &sc.State
	if st.Cursor.IsZero() {
		st.Cursor, changed = sc.CreatedAt, true // stored by add; never zero but in a hand-made record
	}
	window := catchupWindow(sc)
	jitter, _ := schedule.ParseDuration(sc.Spec.Jitter)
	// Slots so old that even their latest jitter is past the window are missed without looking
	// at them one by one.
	if late, _ := cal.Between(st.Cursor, now.Add(-window-jitter), maxSlotsPerEvaluation); len(late) > 0 {
		c.miss(sc, late, now)
		changed = true
	}
	decidedFrom := len(st.Firing)
	for range maxSlotsPerEvaluation {
		slot, ok := cal.Next(st.Cursor)
		if !ok {
			break
		}
		fire := cal.FireTime(sc.UID, slot)
		if fire.After(now) {
			break
		}
		st.Cursor, changed = slot, true
		if now.Sub(fire) > window {
			c.miss(sc, []time.Time{slot}, now)
			continue
		}
		decide(st, protocol.PendingSlot{Slot: slot, Key: slotKey(sc, slot), Overlap: sc.Policies.Overlap}, now)
	}
	if overlapOf(sc.Policies.Overlap) == protocol.OverlapCancelOther {
		supersede(st, decidedFrom, now)
	}
	return changed, nil
}

// supersede keeps, of the slots decided to fire in this evaluation (st.Firing from index from),
// only the latest: under cancel_other each slot's run would cancel the one before it, so slots
// caught up together would otherwise all start at once, none of them running yet to be
// cancelled. The others are recorded skipped. Slots decided in earlier evaluations are left
// alone: their runs may have been submitted already.
func supersede(st *protocol.ScheduleState, from int, now time.Time) {
	if len(st.Firing)-from < 2 {
		return
	}
	last := st.Firing[len(st.Firing)-1]
	for _, p := range st.Firing[from : len(st.Firing)-1] {
		st.Skipped++
		record(st, protocol.SlotRecord{Slot: p.Slot, Outcome: protocol.SlotSkipped, Key: p.Key, At: now,
			Error: "cancel_other: caught up with the later slot " + last.Slot.Format(time.RFC3339) + ", which started instead"})
		last.Cancel = append(last.Cancel, p.Cancel...)
	}
	slices.Sort(last.Cancel)
	last.Cancel = slices.Compact(last.Cancel)
	st.Firing = append(st.Firing[:from], last)
}

// miss records slots as missed and moves the cursor past them.
func (c *Coordinator) miss(sc *protocol.Schedule, slots []time.Time, now time.Time) {
	st := &sc.State
	st.Missed += len(slots)
	st.Cursor = slots[len(slots)-1]
	if len(slots) > missedDetail {
		record(st, protocol.SlotRecord{Slot: slots[len(slots)-1], Outcome: protocol.SlotMissed, At: now,
			Error: fmt.Sprintf("%d slots missed, from %s to %s: older than the catch-up window",
				len(slots), slots[0].Format(time.RFC3339), slots[len(slots)-1].Format(time.RFC3339))})
	} else {
		for _, s := range slots {
			record(st, protocol.SlotRecord{Slot: s, Outcome: protocol.SlotMissed, At: now, Key: slotKey(sc, s),
				Error: "older than the catch-up window when a coordinator came to it"})
		}
	}
	c.opts.log.Warn("schedule slots missed", "schedule", sc.Name, "slots", len(slots), "last", slots[len(slots)-1])
}

// decide applies p's overlap policy to a slot that is due: it fires it (State.Firing), buffers
// it or skips it, and returns what it decided.
func decide(st *protocol.ScheduleState, p protocol.PendingSlot, now time.Time) protocol.SlotOutcome {
	p.Overlap = overlapOf(p.Overlap)
	skip := func(why string) protocol.SlotOutcome {
		st.Skipped++
		record(st, protocol.SlotRecord{Slot: p.Slot, Outcome: protocol.SlotSkipped, Trigger: p.Trigger, Key: p.Key, At: now, Error: why})
		return protocol.SlotSkipped
	}
	buffer := func() protocol.SlotOutcome {
		st.Buffered = append(st.Buffered, p)
		record(st, protocol.SlotRecord{Slot: p.Slot, Outcome: protocol.SlotBuffered, Trigger: p.Trigger, Key: p.Key, At: now})
		return protocol.SlotBuffered
	}
	if !busy(st) && len(st.Buffered) == 0 {
		st.Firing = append(st.Firing, p)
		return protocol.SlotFired
	}
	switch p.Overlap {
	case protocol.OverlapBufferOne:
		if len(st.Buffered) > 0 {
			return skip("buffer_one: a slot is already waiting for the running run")
		}
		return buffer()
	case protocol.OverlapBufferAll:
		if len(st.Buffered) >= maxBuffered {
			return skip(fmt.Sprintf("buffer_all: %d slots are already waiting", maxBuffered))
		}
		return buffer()
	case protocol.OverlapCancelOther:
		p.Cancel = slices.Clone(st.Active)
		st.Firing = append(st.Firing, p)
		return protocol.SlotFired
	case protocol.OverlapAllowAll:
		st.Firing = append(st.Firing, p)
		return protocol.SlotFired
	default:
		return skip("skip: the previous run is still going")
	}
}

// startBuffered moves the first buffered slot to Firing once no run of the schedule is going.
func startBuffered(st *protocol.ScheduleState, now time.Time) bool {
	if busy(st) || len(st.Buffered) == 0 {
		return false
	}
	st.Firing = append(st.Firing, st.Buffered[0])
	st.Buffered = slices.Delete(st.Buffered, 0, 1)
	return true
}

// followActive updates the status of the schedule's active runs in its history, forgets those
// that ended, and pauses the schedule when one failed and its policy says so.
func (c *Coordinator) followActive(ctx context.Context, sc *protocol.Schedule) bool {
	changed := false
	st := &sc.State
	for i := 0; i < len(st.Active); i++ {
		id := st.Active[i]
		rec, _, err := c.runs.Get(ctx, id)
		var status protocol.RunStatus
		switch {
		case errors.Is(err, kvstore.ErrNotFound):
			status = "" // pruned: nothing more to learn of it
		case err != nil:
			c.opts.log.Warn("following a scheduled run", "schedule", sc.Name, "run_id", id, "error", err)
			continue
		default:
			status = rec.Status
		}
		for j := range st.History {
			if st.History[j].RunID == id && st.History[j].Status != status && status != "" {
				st.History[j].Status, changed = status, true
			}
		}
		if status != "" && !status.Final() {
			continue
		}
		st.Active = slices.Delete(st.Active, i, i+1)
		i--
		changed = true
		if status == protocol.StatusFailed && sc.Policies.PauseOnFailure && !sc.Paused {
			sc.Paused, sc.Note = true, fmt.Sprintf("paused on failure: run %s failed", id)
			c.opts.log.Warn("schedule paused on failure", "schedule", sc.Name, "run_id", id)
		}
	}
	return changed
}

// fireDecided submits the run of every slot in sc's Firing, then records each, and returns the
// records of the slots it recorded. It is safe to run on several coordinators at once, and again
// after a crash: the slots' keys give one run each.
func (c *Coordinator) fireDecided(ctx context.Context, sc *protocol.Schedule) []protocol.SlotRecord {
	var out []protocol.SlotRecord
	for _, p := range sc.State.Firing {
		for _, id := range p.Cancel {
			c.cancelForSchedule(ctx, sc, id, p.Slot)
		}
		resp, apiErr := c.submitSlot(ctx, sc, p)
		now := c.opts.now().UTC()
		if apiErr != nil && retryable(apiErr) && now.Sub(p.Slot) <= catchupWindow(sc) {
			// Left in Firing: the next evaluation tries again, until the slot is too late.
			c.opts.log.Warn("submitting a scheduled run", "schedule", sc.Name, "slot", p.Slot, "error", apiErr.Message)
			continue
		}
		var rec protocol.SlotRecord
		_, err := c.schedules.Change(ctx, sc.Name, func(cur *protocol.Schedule) (bool, error) {
			// A try that lost its compare-and-set to the coordinator recording the same slot
			// must not leave its record behind: the slot would be counted and returned twice.
			rec = protocol.SlotRecord{}
			i := slices.IndexFunc(cur.State.Firing, func(f protocol.PendingSlot) bool { return f.Key == p.Key })
			if i < 0 {
				return false, nil // another coordinator recorded it first
			}
			st := &cur.State
			st.Firing = slices.Delete(st.Firing, i, i+1)
			rec = protocol.SlotRecord{Slot: p.Slot, Trigger: p.Trigger, Key: p.Key, At: now}
			if apiErr != nil {
				st.Refused++
				rec.Outcome, rec.Error = protocol.SlotRefused, apiErr.Message
			} else {
				st.Fired++
				rec.Outcome, rec.RunID, rec.Status = protocol.SlotFired, resp.RunID, protocol.StatusPending
				if !slices.Contains(st.Active, resp.RunID) {
					st.Active = append(st.Active, resp.RunID)
				}
			}
			record(st, rec)
			return true, nil
		})
		if err != nil {
			c.opts.log.Warn("recording a scheduled run", "schedule", sc.Name, "slot", p.Slot, "error", err)
			continue
		}
		if rec.Outcome != "" {
			c.opts.metrics.ScheduleSlots(rec.Outcome, 1)
			out = append(out, rec)
			c.opts.log.Info("schedule fired", "schedule", sc.Name, "slot", p.Slot, "outcome", rec.Outcome, "run_id", rec.RunID)
		}
	}
	return out
}

// retryable reports whether a refused submission may succeed if sent again.
func retryable(e *protocol.ErrorResponse) bool {
	return e.Code == protocol.CodeInternal || e.Code == protocol.CodeQueueFull
}

// submitSlot submits the run of slot p of sc, as the schedule's owner.
func (c *Coordinator) submitSlot(ctx context.Context, sc *protocol.Schedule, p protocol.PendingSlot) (*protocol.SubmitResponse, *protocol.ErrorResponse) {
	inputs, err := c.openInputs(sc.Inputs)
	if err != nil {
		return nil, apiError(protocol.CodeInvalidInput, "schedule %s: open its sensitive inputs: %v", sc.Name, err)
	}
	req := protocol.SubmitRequest{
		Version: protocol.SubmitVersion, Playbook: sc.Playbook, Source: sc.Source, Inputs: inputs,
		IdempotencyKey: p.Key, Files: sc.Files, Timeout: sc.Timeout,
	}
	return c.submitFrom(ctx, req, sc.Owner, runOrigin{schedule: sc.Name, scheduledFor: p.Slot})
}

// openInputs returns inputs with their sealed (sensitive) values opened.
func (c *Coordinator) openInputs(inputs map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(inputs))
	for k, v := range inputs {
		open, _, err := c.opts.keys.OpenValue(v)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", k, err)
		}
		out[k] = open
	}
	return out, nil
}

// cancelForSchedule asks run id to stop because a slot of sc under cancel_other replaces it.
func (c *Coordinator) cancelForSchedule(ctx context.Context, sc *protocol.Schedule, id string, slot time.Time) {
	reason := fmt.Sprintf("cancelled by schedule %s: the run of slot %s replaces it (overlap cancel_other)", sc.Name, slot.Format(time.RFC3339))
	if _, err := c.requestCancel(ctx, id, reason, sc.Owner); err != nil && !errors.Is(err, kvstore.ErrNotFound) {
		c.opts.log.Warn("cancelling a run for its schedule", "schedule", sc.Name, "run_id", id, "error", err)
	}
}
