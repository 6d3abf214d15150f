package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// fakeClock is a clock the test moves: schedules are evaluated at its time, so slots a minute
// apart come as fast as the test advances it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// scheduleEpoch is a minute boundary to start fake clocks at, a little after it.
var scheduleEpoch = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const scheduledDoc = header + "inputs:\n  tier:\n    type: String\n    description: tier\n  token:\n    type: String\n    description: token\n    sensitive: true\n    default: none\n" +
	"tasks:\n  - shell:\n      command: \"echo {{ inputs.tier }}\"\n"

// jobText is a shell job's command with the values of its templates, which reach the shell in
// its environment.
func jobText(job *protocol.Job) string {
	text := job.Shell.Command
	for _, v := range job.Shell.Environment {
		text += " " + v
	}
	return text
}

// scheduledJob fails the job of a run whose tier says fail, and succeeds otherwise.
func scheduledJob(job *protocol.Job) protocol.Result {
	if strings.Contains(jobText(job), "fail") {
		return protocol.Result{Success: false, Msg: "Command failed with code 1", ExitCode: 1}
	}
	return succeed(job)
}

// startScheduler runs a coordinator whose schedules follow clock.
func (e *env) startScheduler(name string, clock *fakeClock, opts ...Option) (kill func()) {
	e.t.Helper()
	kill = e.startCoordinator(name, append([]Option{WithClock(clock.now), WithScheduleTick(20 * time.Millisecond)}, opts...)...)
	e.awaitScheduleAPI()
	return kill
}

// awaitScheduleAPI waits until a coordinator answers the schedule API.
func (e *env) awaitScheduleAPI() {
	e.t.Helper()
	natstest.Eventually(e.t, 20*time.Second, func() error {
		_, err := e.client.ListSchedules(context.Background())
		return err
	})
}

// addSchedule adds a schedule of scheduledDoc every minute.
func (e *env) addSchedule(name string, pol protocol.SchedulePolicies, inputs map[string]any) *protocol.ScheduleInfo {
	e.t.Helper()
	if inputs == nil {
		inputs = map[string]any{"tier": "bravo"}
	}
	info, err := e.client.AddSchedule(context.Background(), protocol.ScheduleAddRequest{
		Name: name, Playbook: scheduledDoc, Inputs: inputs,
		Spec: protocol.ScheduleSpec{Every: "1m"}, Policies: pol,
	})
	if err != nil {
		e.t.Fatalf("add schedule: %v", err)
	}
	return info
}

// waitSchedule waits until cond holds of schedule name and returns it.
func (e *env) waitSchedule(name string, cond func(*protocol.Schedule) error) *protocol.Schedule {
	e.t.Helper()
	var sc *protocol.Schedule
	natstest.Eventually(e.t, 20*time.Second, func() error {
		info, err := e.client.GetSchedule(context.Background(), name, 1)
		if err != nil {
			return err
		}
		sc = &info.Schedule
		return cond(sc)
	})
	return sc
}

// fired waits until schedule name has fired n slots with no slot still being submitted.
func fired(n int) func(*protocol.Schedule) error {
	return func(sc *protocol.Schedule) error {
		if sc.State.Fired != n || len(sc.State.Firing) > 0 {
			return fmt.Errorf("fired %d, firing %d, want %d fired", sc.State.Fired, len(sc.State.Firing), n)
		}
		return nil
	}
}

// scheduledRuns lists the runs schedule name started, by slot.
func (e *env) scheduledRuns(name string) map[time.Time][]*protocol.RunRecord {
	e.t.Helper()
	recs, err := mustRuns(e.t, e).List(context.Background(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[time.Time][]*protocol.RunRecord{}
	for _, r := range recs {
		if r.Schedule == name {
			out[r.ScheduledFor] = append(out[r.ScheduledFor], r)
		}
	}
	return out
}

func TestScheduleFiresEverySlotOnceAcrossCoordinators(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	clock := newFakeClock(scheduleEpoch.Add(time.Second))
	e.startScheduler("c1", clock)
	e.startScheduler("c2", clock)
	e.startScheduler("c3", clock)
	w := e.startTestWorker(scheduledJob)
	e.addSchedule("nightly", protocol.SchedulePolicies{}, nil)
	const slots = 10
	for i := 1; i <= slots; i++ {
		clock.advance(time.Minute)
		sc := e.waitSchedule("nightly", fired(i))
		// Each run ends before the next slot, so no slot meets the skip policy.
		e.waitFinal(sc.State.History[len(sc.State.History)-1].RunID, 20*time.Second)
		e.waitSchedule("nightly", func(sc *protocol.Schedule) error {
			if len(sc.State.Active) > 0 {
				return errNotYet
			}
			return nil
		})
	}
	runs := e.scheduledRuns("nightly")
	if len(runs) != slots {
		t.Fatalf("%d slots have runs, want %d", len(runs), slots)
	}
	for i := 1; i <= slots; i++ {
		slot := scheduleEpoch.Add(time.Duration(i) * time.Minute)
		if got := runs[slot]; len(got) != 1 {
			t.Errorf("slot %s has %d runs, want 1", slot, len(got))
		} else if got[0].Status != protocol.StatusSuccess || got[0].Inputs["tier"] != "bravo" {
			t.Errorf("slot %s: run %s %s with inputs %v", slot, got[0].ID, got[0].Status, got[0].Inputs)
		}
	}
	w.ranEachOnce(t, slots)
	r, err := e.client.Get(context.Background(), runs[scheduleEpoch.Add(time.Minute)][0].ID)
	if err != nil || r.Schedule != "nightly" || !r.ScheduledFor.Equal(scheduleEpoch.Add(time.Minute)) {
		t.Fatalf("report schedule %q scheduled_for %s (%v)", r.Schedule, r.ScheduledFor, err)
	}
}

func TestScheduleCatchesUpWithinItsWindowAndRecordsTheRestMissed(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	clock := newFakeClock(scheduleEpoch.Add(time.Second))
	kill := e.startScheduler("c1", clock)
	e.startTestWorker(scheduledJob)
	e.addSchedule("catchup", protocol.SchedulePolicies{Overlap: protocol.OverlapBufferAll, CatchupWindow: "3m"}, nil)
	kill()
	// Every coordinator is down for five slots (12:01 to 12:05); it is 12:05:01 when one comes back.
	clock.advance(5 * time.Minute)
	e.startScheduler("c2", clock)
	sc := e.waitSchedule("catchup", func(sc *protocol.Schedule) error {
		if sc.State.Fired != 3 || len(sc.State.Active)+len(sc.State.Buffered)+len(sc.State.Firing) > 0 {
			return fmt.Errorf("fired %d, active %d, buffered %d", sc.State.Fired, len(sc.State.Active), len(sc.State.Buffered))
		}
		return nil
	})
	if sc.State.Missed != 2 {
		t.Errorf("missed %d, want 2", sc.State.Missed)
	}
	var missed []time.Time
	for _, h := range sc.State.History {
		if h.Outcome == protocol.SlotMissed {
			missed = append(missed, h.Slot)
		}
	}
	if want := []time.Time{scheduleEpoch.Add(time.Minute), scheduleEpoch.Add(2 * time.Minute)}; !slices.EqualFunc(missed, want, time.Time.Equal) {
		t.Errorf("missed slots %v, want %v", missed, want)
	}
	runs := e.scheduledRuns("catchup")
	for i := 3; i <= 5; i++ {
		if got := runs[scheduleEpoch.Add(time.Duration(i)*time.Minute)]; len(got) != 1 {
			t.Errorf("slot 12:0%d has %d runs, want 1", i, len(got))
		}
	}
	if len(runs) != 3 {
		t.Errorf("%d slots ran, want 3", len(runs))
	}
}

// overlapRig is one schedule under an overlap policy whose first run blocks until released.
type overlapRig struct {
	e       *env
	clock   *fakeClock
	release chan struct{}
	started atomic.Int32
}

func newOverlapRig(t *testing.T, overlap protocol.OverlapPolicy) *overlapRig {
	e := newEnv(t, kvstore.Config{})
	r := &overlapRig{e: e, clock: newFakeClock(scheduleEpoch.Add(time.Second)), release: make(chan struct{})}
	e.startScheduler("c1", r.clock)
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if r.started.Add(1) == 1 {
			<-r.release
		}
		return succeed(job)
	})
	e.addSchedule("slow", protocol.SchedulePolicies{Overlap: overlap, CatchupWindow: "1h"}, nil)
	// Slot 1 fires and its run holds the worker.
	r.clock.advance(time.Minute)
	e.waitSchedule("slow", fired(1))
	natstest.Eventually(t, 20*time.Second, func() error {
		if r.started.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	return r
}

// slot moves the clock to the next slot and waits until cond holds.
func (r *overlapRig) slot(cond func(*protocol.Schedule) error) *protocol.Schedule {
	r.clock.advance(time.Minute)
	return r.e.waitSchedule("slow", func(sc *protocol.Schedule) error {
		if !sc.State.Cursor.Equal(r.clock.now().Truncate(time.Minute)) {
			return errNotYet
		}
		return cond(sc)
	})
}

func counts(fired, skipped, buffered int) func(*protocol.Schedule) error {
	return func(sc *protocol.Schedule) error {
		st := sc.State
		if st.Fired != fired || st.Skipped != skipped || len(st.Buffered) != buffered || len(st.Firing) > 0 {
			return fmt.Errorf("fired %d skipped %d buffered %d, want %d %d %d", st.Fired, st.Skipped, len(st.Buffered), fired, skipped, buffered)
		}
		return nil
	}
}

func TestScheduleOverlapPolicies(t *testing.T) {
	t.Run("skip", func(t *testing.T) {
		r := newOverlapRig(t, "")
		r.slot(counts(1, 1, 0))
		r.slot(counts(1, 2, 0))
		close(r.release)
		r.e.waitSchedule("slow", func(sc *protocol.Schedule) error { return idle(sc) })
		r.slot(counts(2, 2, 0))
	})
	t.Run("buffer_one", func(t *testing.T) {
		r := newOverlapRig(t, protocol.OverlapBufferOne)
		r.slot(counts(1, 0, 1))
		r.slot(counts(1, 1, 1)) // one is waiting already: this one is skipped
		close(r.release)
		sc := r.e.waitSchedule("slow", func(sc *protocol.Schedule) error {
			if err := counts(2, 1, 0)(sc); err != nil {
				return err
			}
			return idle(sc)
		})
		if got := r.e.scheduledRuns("slow")[scheduleEpoch.Add(2*time.Minute)]; len(got) != 1 {
			t.Errorf("the buffered slot 12:02 has %d runs, want 1 (history %+v)", len(got), sc.State.History)
		}
	})
	t.Run("buffer_all", func(t *testing.T) {
		r := newOverlapRig(t, protocol.OverlapBufferAll)
		r.slot(counts(1, 0, 1))
		r.slot(counts(1, 0, 2))
		close(r.release)
		r.e.waitSchedule("slow", func(sc *protocol.Schedule) error {
			if err := counts(3, 0, 0)(sc); err != nil {
				return err
			}
			return idle(sc)
		})
		runs := r.e.scheduledRuns("slow")
		var order []time.Time
		for slot, rs := range runs {
			if len(rs) != 1 {
				t.Errorf("slot %s has %d runs", slot, len(rs))
			}
			order = append(order, slot)
		}
		slices.SortFunc(order, func(a, b time.Time) int { return a.Compare(b) })
		// Buffered slots run one after another, in slot order.
		for i := 1; i < len(order); i++ {
			prev, next := runs[order[i-1]][0], runs[order[i]][0]
			if next.StartedAt.Before(prev.EndedAt) {
				t.Errorf("run of %s started at %s, before the run of %s ended at %s", order[i], next.StartedAt, order[i-1], prev.EndedAt)
			}
		}
	})
	t.Run("cancel_other", func(t *testing.T) {
		r := newOverlapRig(t, protocol.OverlapCancelOther)
		first := r.e.scheduledRuns("slow")[scheduleEpoch.Add(time.Minute)][0].ID
		r.slot(counts(2, 0, 0))
		rep := r.e.waitFinal(first, 20*time.Second)
		close(r.release)
		if rep.Status != protocol.StatusCancelled || !strings.Contains(rep.Error, "cancel_other") {
			t.Fatalf("first run %s %q, want cancelled by the overlap policy", rep.Status, rep.Error)
		}
		r.e.waitSchedule("slow", idle)
	})
	t.Run("allow_all", func(t *testing.T) {
		r := newOverlapRig(t, protocol.OverlapAllowAll)
		sc := r.slot(counts(2, 0, 0))
		if len(sc.State.Active) != 2 {
			// The second run starts while the first holds the worker (it waits for the worker
			// only, not for the schedule).
			t.Errorf("%d active runs, want 2", len(sc.State.Active))
		}
		close(r.release)
		r.e.waitSchedule("slow", idle)
	})
}

// idle holds when no run of the schedule is going or waiting.
func idle(sc *protocol.Schedule) error {
	if n := len(sc.State.Active) + len(sc.State.Firing) + len(sc.State.Buffered); n > 0 {
		return fmt.Errorf("%d runs going or waiting", n)
	}
	return nil
}

func TestSchedulePauseResumeAndPauseOnFailure(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	clock := newFakeClock(scheduleEpoch.Add(time.Second))
	e.startScheduler("c1", clock)
	e.startTestWorker(scheduledJob)
	e.addSchedule("paused", protocol.SchedulePolicies{CatchupWindow: "1h", PauseOnFailure: true}, nil)
	ctx := context.Background()
	info, err := e.client.PauseSchedule(ctx, "paused", true, "maintenance window")
	if err != nil || !info.Schedule.Paused || !strings.Contains(info.Schedule.Note, "maintenance window") || len(info.Next) != 0 {
		t.Fatalf("pause: %+v %v", info, err)
	}
	clock.advance(3 * time.Minute)
	// A change wakes every coordinator: the update below makes sure one evaluated the paused
	// schedule at 12:03 before it is resumed.
	if _, err := e.client.UpdateSchedule(ctx, protocol.ScheduleUpdateRequest{Name: "paused"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.PauseSchedule(ctx, "paused", false, ""); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Minute)
	sc := e.waitSchedule("paused", fired(1))
	if runs := e.scheduledRuns("paused"); len(runs) != 1 || runs[scheduleEpoch.Add(4*time.Minute)] == nil {
		t.Fatalf("runs after resume: %v, want only the 12:04 slot (no burst of the paused ones)", runs)
	}
	e.waitSchedule("paused", idle)
	if sc.State.Missed != 0 {
		t.Errorf("slots of the pause recorded missed: %d", sc.State.Missed)
	}
	// A failing run pauses the schedule.
	if _, err := e.client.UpdateSchedule(ctx, protocol.ScheduleUpdateRequest{Name: "paused", Inputs: map[string]any{"tier": "fail-now"}}); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Minute)
	sc = e.waitSchedule("paused", func(sc *protocol.Schedule) error {
		if !sc.Paused {
			return errNotYet
		}
		return nil
	})
	if !strings.Contains(sc.Note, "paused on failure") {
		t.Errorf("note %q", sc.Note)
	}
	clock.advance(time.Minute)
	if _, err := e.client.UpdateSchedule(ctx, protocol.ScheduleUpdateRequest{Name: "paused"}); err != nil {
		t.Fatal(err)
	}
	if sc := e.waitSchedule("paused", idle); sc.State.Fired != 2 {
		t.Errorf("fired %d after pausing on failure, want 2", sc.State.Fired)
	}
}

func TestScheduleTriggerAndBackfillNeverRunASlotTwice(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	clock := newFakeClock(scheduleEpoch.Add(time.Second))
	kill := e.startScheduler("c1", clock)
	w := e.startTestWorker(scheduledJob)
	e.addSchedule("bf", protocol.SchedulePolicies{CatchupWindow: "1m30s", Overlap: protocol.OverlapAllowAll}, nil)
	ctx := context.Background()

	resp, err := e.client.TriggerSchedule(ctx, "bf", "k1")
	if err != nil || len(resp.Slots) != 1 || resp.Slots[0].Outcome != protocol.SlotFired || resp.Slots[0].RunID == "" {
		t.Fatalf("trigger: %+v %v", resp, err)
	}
	again, err := e.client.TriggerSchedule(ctx, "bf", "k1")
	if err != nil || len(again.Slots) != 1 || again.Slots[0].RunID != resp.Slots[0].RunID {
		t.Fatalf("trigger again with the same key: %+v %v, want run %s", again, err, resp.Slots[0].RunID)
	}
	e.waitFinal(resp.Slots[0].RunID, 20*time.Second)
	e.waitSchedule("bf", idle)

	// 12:01 fires; the coordinator is then down until 12:05:01: 12:02 and 12:03 are older than
	// the window of 1m30s and missed, 12:04 and 12:05 fire late.
	clock.advance(time.Minute)
	e.waitSchedule("bf", fired(2))
	e.waitSchedule("bf", idle)
	kill()
	clock.advance(4 * time.Minute)
	e.startScheduler("c2", clock)
	e.waitSchedule("bf", func(sc *protocol.Schedule) error {
		if sc.State.Missed != 2 || sc.State.Fired != 4 {
			return fmt.Errorf("missed %d fired %d, want 2 and 4", sc.State.Missed, sc.State.Fired)
		}
		return idle(sc)
	})
	// A backfill of 12:00 to 12:05 runs 12:00 (before the schedule was added) and the two
	// missed slots, and not 12:01, 12:04 or 12:05, which ran.
	backfill := func() *protocol.ScheduleActionResponse {
		t.Helper()
		bf, err := e.client.BackfillSchedule(ctx, protocol.ScheduleBackfillRequest{Name: "bf",
			From: scheduleEpoch, To: scheduleEpoch.Add(5 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return bf
	}
	already := func(bf *protocol.ScheduleActionResponse) int {
		n := 0
		for _, s := range bf.Slots {
			if s.Error == "already ran" {
				n++
			}
		}
		return n
	}
	if bf := backfill(); already(bf) != 3 || len(bf.Slots) != 6 {
		t.Fatalf("backfill slots %+v: want 6, 3 of them already ran", bf.Slots)
	}
	e.waitSchedule("bf", func(sc *protocol.Schedule) error {
		if sc.State.Fired != 7 {
			return fmt.Errorf("fired %d, want 7", sc.State.Fired)
		}
		return idle(sc)
	})
	// Backfilling again changes nothing.
	if bf := backfill(); already(bf) != 6 {
		t.Errorf("second backfill: %+v, want every slot already ran", bf.Slots)
	}
	runs := e.scheduledRuns("bf")
	for i := 0; i <= 5; i++ {
		if got := runs[scheduleEpoch.Add(time.Duration(i)*time.Minute)]; len(got) != 1 {
			t.Errorf("slot 12:0%d has %d runs, want 1", i, len(got))
		}
	}
	// The trigger's run is the seventh.
	w.ranEachOnce(t, 7)
}

func TestScheduleRefusesWhatCouldNeverRun(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.awaitScheduleAPI()
	ctx := context.Background()
	add := func(mod func(*protocol.ScheduleAddRequest)) *protocol.ErrorResponse {
		req := protocol.ScheduleAddRequest{Name: "s", Playbook: scheduledDoc, Inputs: map[string]any{"tier": "a"},
			Spec: protocol.ScheduleSpec{Cron: []string{"0 3 * * *"}, TimeZone: "Europe/Berlin"}}
		mod(&req)
		_, err := e.client.AddSchedule(ctx, req)
		var apiErr *protocol.ErrorResponse
		if !errors.As(err, &apiErr) {
			t.Fatalf("want a refusal, got %v", err)
		}
		return apiErr
	}
	for _, tc := range []struct {
		name, code, want string
		mod              func(*protocol.ScheduleAddRequest)
	}{
		{"bad name", protocol.CodeBadRequest, "name", func(r *protocol.ScheduleAddRequest) { r.Name = "a.b" }},
		{"bad cron", protocol.CodeBadRequest, "spec.cron[0]", func(r *protocol.ScheduleAddRequest) { r.Spec.Cron = []string{"61 * * * *"} }},
		{"no calendar", protocol.CodeBadRequest, "spec", func(r *protocol.ScheduleAddRequest) { r.Spec = protocol.ScheduleSpec{} }},
		{"bad zone", protocol.CodeBadRequest, "spec.time_zone", func(r *protocol.ScheduleAddRequest) { r.Spec.TimeZone = "Mars/Olympus" }},
		{"ended", protocol.CodeBadRequest, "no slot after now", func(r *protocol.ScheduleAddRequest) {
			r.Spec.End = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		}},
		{"all excluded", protocol.CodeBadRequest, "no slot after now", func(r *protocol.ScheduleAddRequest) {
			r.Spec.Exclude = []string{"* 0-11 * * *", "* 12-23 * * *"}
		}},
		{"matches every time", protocol.CodeBadRequest, "spec.exclude[0]", func(r *protocol.ScheduleAddRequest) {
			r.Spec.Exclude = []string{"* * * * *"}
		}},
		{"too many crons", protocol.CodeBadRequest, "spec.cron", func(r *protocol.ScheduleAddRequest) {
			r.Spec.Cron = make([]string, maxCronExpressions+1)
			for i := range r.Spec.Cron {
				r.Spec.Cron[i] = fmt.Sprintf("%d 3 * * *", i%60)
			}
		}},
		{"bad overlap", protocol.CodeBadRequest, "policies.overlap", func(r *protocol.ScheduleAddRequest) { r.Policies.Overlap = "queue" }},
		{"bad catchup", protocol.CodeBadRequest, "policies.catchup_window", func(r *protocol.ScheduleAddRequest) { r.Policies.CatchupWindow = "soon" }},
		{"missing input", protocol.CodeInvalidInput, "tier", func(r *protocol.ScheduleAddRequest) { r.Inputs = nil }},
		{"bad playbook", protocol.CodeInvalidPlaybook, "tasks", func(r *protocol.ScheduleAddRequest) { r.Playbook = header + "tasks:\n  - shel: {}\n" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apiErr := add(tc.mod)
			if apiErr.Code != tc.code || !strings.Contains(apiErr.Error(), tc.want) {
				t.Fatalf("got %s %q, want %s naming %s", apiErr.Code, apiErr.Error(), tc.code, tc.want)
			}
		})
	}
	// An unknown field is refused, not dropped: a misspelt policy would run on defaults.
	var out protocol.ScheduleInfo
	err := e.client.callRaw(ctx, protocol.ScheduleAddSubject, []byte(`{"version":1,"name":"s","playbok":"x"}`), &out)
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeBadRequest || !strings.Contains(apiErr.Message, "playbok") {
		t.Fatalf("unknown field: %v", err)
	}
	names, err := kvstoreSchedules(t, e).Names(ctx)
	if err != nil || len(names) != 0 {
		t.Fatalf("refused schedules were stored: %v %v", names, err)
	}
	// Taken names are refused.
	e.addSchedule("taken", protocol.SchedulePolicies{}, nil)
	if _, err := e.client.AddSchedule(ctx, protocol.ScheduleAddRequest{Name: "taken", Playbook: scheduledDoc,
		Inputs: map[string]any{"tier": "a"}, Spec: protocol.ScheduleSpec{Every: "1h"}}); !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeConflict {
		t.Fatalf("taken name: %v", err)
	}
}

func TestScheduleKeepsSensitiveInputsSealed(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	clock := newFakeClock(scheduleEpoch.Add(time.Second))
	key := make([]byte, kvstore.SecretsKeySize)
	for i := range key {
		key[i] = byte(i + 1)
	}
	e.startScheduler("c1", clock, WithSecretsKey(key))
	var seen atomic.Value
	release := make(chan struct{})
	defer close(release)
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		seen.Store(jobText(job))
		<-release // the run's secrets are deleted when it ends
		return succeed(job)
	})
	const secret = "s3cr3t-token-value"
	doc := strings.Replace(scheduledDoc, `command: "echo {{ inputs.tier }}"`, `command: "echo {{ inputs.token }}"`, 1)
	info, err := e.client.AddSchedule(context.Background(), protocol.ScheduleAddRequest{Name: "sealed", Playbook: doc,
		Inputs: map[string]any{"tier": "a", "token": secret}, Spec: protocol.ScheduleSpec{Every: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Schedule.Inputs["token"] != protocol.Redacted {
		t.Fatalf("shown inputs %v, want the token redacted", info.Schedule.Inputs)
	}
	raw, err := e.js.KeyValue(context.Background(), protocol.SchedulesBucket)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := raw.Get(context.Background(), "sealed")
	if err != nil || strings.Contains(string(entry.Value()), secret) {
		t.Fatalf("the stored schedule holds the secret in clear (%v)", err)
	}
	clock.advance(time.Minute)
	sc := e.waitSchedule("sealed", fired(1))
	// The run holds a reference, and its sensitive values are in the secrets bucket, for the
	// worker: the schedule passed the opened value on.
	natstest.Eventually(t, 20*time.Second, func() error {
		if s, _ := seen.Load().(string); !strings.Contains(s, protocol.SecretRef("token")) {
			return fmt.Errorf("job command %q", s)
		}
		return nil
	})
	keys, err := kvstore.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := kvstore.OpenSecrets(context.Background(), e.js, keys)
	if err != nil {
		t.Fatal(err)
	}
	runID := sc.State.History[len(sc.State.History)-1].RunID
	natstest.Eventually(t, 20*time.Second, func() error {
		vals, err := secrets.Get(context.Background(), runID)
		if err != nil {
			return err
		}
		if vals["token"] != secret {
			return fmt.Errorf("run secrets hold token %v", vals["token"])
		}
		return nil
	})
}

func kvstoreSchedules(t *testing.T, e *env) *kvstore.Schedules {
	t.Helper()
	s, err := kvstore.OpenSchedules(context.Background(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDecideAppliesTheOverlapPolicy(t *testing.T) {
	at := scheduleEpoch
	slot := func(i int, p protocol.OverlapPolicy) protocol.PendingSlot {
		return protocol.PendingSlot{Slot: at.Add(time.Duration(i) * time.Minute), Key: fmt.Sprint(i), Overlap: p}
	}
	for _, tc := range []struct {
		policy protocol.OverlapPolicy
		want   []protocol.SlotOutcome
	}{
		{"", []protocol.SlotOutcome{protocol.SlotSkipped, protocol.SlotSkipped}},
		{protocol.OverlapBufferOne, []protocol.SlotOutcome{protocol.SlotBuffered, protocol.SlotSkipped}},
		{protocol.OverlapBufferAll, []protocol.SlotOutcome{protocol.SlotBuffered, protocol.SlotBuffered}},
		{protocol.OverlapCancelOther, []protocol.SlotOutcome{protocol.SlotFired, protocol.SlotFired}},
		{protocol.OverlapAllowAll, []protocol.SlotOutcome{protocol.SlotFired, protocol.SlotFired}},
	} {
		st := &protocol.ScheduleState{}
		if got := decide(st, slot(0, tc.policy), at); got != protocol.SlotFired {
			t.Fatalf("%s: an idle schedule's slot %s, want fired", tc.policy, got)
		}
		st.Active, st.Firing = []string{"run-0"}, nil // the first slot's run is going
		var got []protocol.SlotOutcome
		for i := 1; i <= 2; i++ {
			got = append(got, decide(st, slot(i, tc.policy), at))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.policy, got, tc.want)
		}
		if tc.policy == protocol.OverlapCancelOther && !slices.Equal(st.Firing[0].Cancel, []string{"run-0"}) {
			t.Errorf("cancel_other cancels %v, want run-0", st.Firing[0].Cancel)
		}
	}
}

// Under cancel_other, slots caught up together start one run, the latest: each would cancel the
// one before it, so starting them all would run them side by side. The others are recorded
// skipped, naming the slot that started.
func TestScheduleCancelOtherCatchUpStartsOnlyTheLatestSlot(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	clock := newFakeClock(scheduleEpoch.Add(time.Second))
	kill := e.startScheduler("c1", clock)
	e.startTestWorker(scheduledJob)
	e.addSchedule("latest", protocol.SchedulePolicies{Overlap: protocol.OverlapCancelOther, CatchupWindow: "1h"}, nil)
	kill()
	clock.advance(3 * time.Minute) // 12:01, 12:02 and 12:03 come while no coordinator runs
	e.startScheduler("c2", clock)
	sc := e.waitSchedule("latest", func(sc *protocol.Schedule) error {
		if sc.State.Fired != 1 || sc.State.Skipped != 2 || len(sc.State.Firing)+len(sc.State.Active) > 0 {
			return fmt.Errorf("fired %d skipped %d firing %d active %d", sc.State.Fired, sc.State.Skipped, len(sc.State.Firing), len(sc.State.Active))
		}
		return nil
	})
	runs := e.scheduledRuns("latest")
	if len(runs) != 1 || len(runs[scheduleEpoch.Add(3*time.Minute)]) != 1 {
		t.Fatalf("runs by slot %v, want one run, for 12:03", runs)
	}
	for _, h := range sc.State.History {
		if h.Outcome == protocol.SlotSkipped && !strings.Contains(h.Error, "later slot 2026-06-01T12:03:00Z") {
			t.Errorf("skipped slot %s says %q", h.Slot, h.Error)
		}
	}
}
