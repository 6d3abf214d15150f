package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/fleettest"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// slotStep is the one step of the scheduled playbook of these tests: it appends "RUN SLOT done"
// to the ledger, the effect counted.
const slotStep = `echo "$FLEETBOOK_RUN_ID done" >> "$LEDGER"`

// scheduledLedger is a one-step ledger playbook for schedules.
func scheduledLedger(t *testing.T, dir string) (file, ledgerPath string) {
	t.Helper()
	ledgerPath = filepath.Join(dir, "ledger")
	return writeFile(t, dir, "slot.yaml", fleettest.LedgerPlaybook(1, slotStep)), ledgerPath
}

// scheduleShow returns schedule name as `schedule show --json` prints it.
func scheduleShow(t *testing.T, dir, name string, conn ...string) protocol.ScheduleInfo {
	t.Helper()
	info, err := tryScheduleShow(t, dir, name, conn...)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// tryScheduleShow is scheduleShow for a poll: a failed command is an error, not the test's end.
func tryScheduleShow(t *testing.T, dir, name string, conn ...string) (protocol.ScheduleInfo, error) {
	t.Helper()
	var info protocol.ScheduleInfo
	r := cli(t, dir, append([]string{"schedule", "show", name, "--json"}, conn...)...)
	if r.code != exitOK {
		return info, fmt.Errorf("schedule show: exit %d: %s", r.code, r.stderr)
	}
	decodeOne(t, r.stdout, &info)
	return info, nil
}

// awaitSlots waits until schedule name has decided every one of its slots up to its end, with
// nothing left firing, buffered or running.
func awaitSlots(t *testing.T, dir, name string, slots int, within time.Duration, conn ...string) protocol.ScheduleState {
	t.Helper()
	var st protocol.ScheduleState
	natstest.Eventually(t, within, func() error {
		info, err := tryScheduleShow(t, dir, name, conn...)
		if err != nil {
			return err // a coordinator just restarted may not answer yet
		}
		st = info.Schedule.State
		decided := st.Fired + st.Skipped + st.Missed + st.Refused
		if decided < slots || len(st.Firing)+len(st.Buffered)+len(st.Active) > 0 {
			return fmt.Errorf("%d of %d slots decided (fired %d, missed %d), %d firing, %d active",
				decided, slots, st.Fired, st.Missed, len(st.Firing), len(st.Active))
		}
		return nil
	})
	return st
}

// awaitAPI waits until a coordinator of f answers.
func (f *fleet) awaitAPI() {
	f.t.Helper()
	natstest.Eventually(f.t, time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := f.client.ListSchedules(ctx)
		return err
	})
}

// slotRuns reads every run the schedule started from the run records, by slot.
func slotRuns(t *testing.T, f *fleet, name string) map[int64][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runs, err := f.client.List(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]string{}
	for _, r := range runs {
		if r.Schedule == name {
			out[r.ScheduledFor.UnixNano()] = append(out[r.ScheduledFor.UnixNano()], r.ID)
		}
	}
	return out
}

// checkEverySlotOnce checks that each of the slots from first, every second, has exactly one
// run, which wrote its effect exactly once, and that nothing else ran.
func checkEverySlotOnce(t *testing.T, f *fleet, name, ledgerPath string, first time.Time, slots int) {
	t.Helper()
	runs := slotRuns(t, f, name)
	counts := ledger(t, ledgerPath)
	for i := range slots {
		slot := first.Add(time.Duration(i) * time.Second)
		ids := runs[slot.UnixNano()]
		if len(ids) != 1 {
			t.Errorf("slot %s has %d runs, want 1", slot.Format(time.RFC3339), len(ids))
			continue
		}
		if n := counts[ids[0]+" done"]; n != 1 {
			t.Errorf("run %s of slot %s wrote its effect %d times, want once", ids[0], slot.Format(time.RFC3339), n)
		}
	}
	if len(runs) != slots {
		var got []string
		for s := range runs {
			got = append(got, time.Unix(0, s).UTC().Format(time.RFC3339))
		}
		sort.Strings(got)
		t.Errorf("%d slots have runs, want %d: %v", len(runs), slots, got)
	}
	if total := len(counts); total != slots {
		t.Errorf("%d effects in the ledger, want %d", total, slots)
	}
}

// addEverySecond adds schedule name of the ledger playbook with calendar (a flag and its value)
// firing every second from a few seconds from now, slots slots, and returns the first slot it
// has (later than asked when the command came late) and the ledger's path.
func addEverySecond(t *testing.T, dir, name string, slots int, conn []string, calendar ...string) (first, last time.Time, ledgerPath string) {
	t.Helper()
	book, ledgerPath := scheduledLedger(t, dir)
	first = time.Now().Truncate(time.Second).Add(3 * time.Second)
	last = first.Add(time.Duration(slots-1) * time.Second)
	args := append([]string{"schedule", "add", name, book}, calendar...)
	args = append(args, "--start", first.Format(time.RFC3339), "--end", last.Format(time.RFC3339),
		"--overlap", "allow_all", "--catchup", "1h", "--input", "ledger="+ledgerPath)
	r := cli(t, dir, append(append(args, "--json"), conn...)...)
	if r.code != exitOK {
		t.Fatalf("schedule add: exit %d: %s", r.code, r.stderr)
	}
	// On a very busy machine the command may come after the first slots: those are before the
	// schedule, and its slots begin after it was added.
	var info protocol.ScheduleInfo
	decodeOne(t, r.stdout, &info)
	if added := info.Schedule.State.Cursor.Truncate(time.Second).Add(time.Second); added.After(first) {
		t.Logf("the schedule was added at %s, after its first slot %s", info.Schedule.State.Cursor, first)
		first = added
	}
	return first, last, ledgerPath
}

// secondsFrom counts the every-second slots from first to last, both included.
func secondsFrom(first, last time.Time) int { return int(last.Sub(first)/time.Second) + 1 }

// Two coordinator processes evaluate one schedule firing every second for 30 slots: 30 runs,
// one per slot, none twice.
func TestScheduleTwoCoordinatorProcessesFireEachSlotOnce(t *testing.T) {
	t.Parallel()
	const slots = 30
	f := newFleet(t)
	f.coordinator("c1", 5*time.Second)
	f.coordinator("c2", 5*time.Second)
	f.worker("w1", 5*time.Second)
	f.worker("w2", 5*time.Second)
	f.awaitAPI()
	dir, conn := t.TempDir(), []string{"--server", f.url}
	first, last, ledgerPath := addEverySecond(t, dir, "every-second", slots, conn, "--cron", "* * * * * *")
	n := secondsFrom(first, last)
	st := awaitSlots(t, dir, "every-second", n, 2*time.Minute+slots*time.Second, conn...)
	if st.Fired != n || st.Missed != 0 || st.Skipped != 0 {
		t.Errorf("fired %d, missed %d, skipped %d; want %d fired", st.Fired, st.Missed, st.Skipped, n)
	}
	checkEverySlotOnce(t, f, "every-second", ledgerPath, first, n)
}

// kill -9 of the coordinator just after slots fire, again and again, with a restart each time:
// every slot within the catch-up window runs exactly once.
func TestScheduleSurvivesCoordinatorKilledAtFiringTime(t *testing.T) {
	t.Parallel()
	const slots = 15
	f := newFleet(t)
	coord := f.coordinator("c1", 2*time.Second)
	f.worker("w1", 5*time.Second)
	f.awaitAPI()
	dir, conn := t.TempDir(), []string{"--server", f.url}
	first, last, ledgerPath := addEverySecond(t, dir, "killed", slots, conn, "--every", "1s")
	n := secondsFrom(first, last)
	// Kill just after a slot's instant (when the coordinator decides and submits it), at a
	// different point in each second, and start a new process at once.
	kills := 0
	for i := 0; time.Now().Before(last.Add(time.Second)); i++ {
		next := time.Now().Truncate(time.Second).Add(time.Second + time.Duration(i%5)*15*time.Millisecond)
		time.Sleep(time.Until(next))
		coord.kill(syscall.SIGKILL)
		kills++
		coord = f.coordinator(fmt.Sprintf("c%d", i+2), 2*time.Second)
	}
	t.Logf("killed the coordinator %d times", kills)
	st := awaitSlots(t, dir, "killed", n, 3*time.Minute, conn...)
	if st.Fired != n || st.Missed != 0 {
		t.Errorf("fired %d, missed %d; want all %d fired within the catch-up window", st.Fired, st.Missed, n)
	}
	checkEverySlotOnce(t, f, "killed", ledgerPath, first, n)
}

// Every schedule command against `fleetbook up` with its security on: add (refusals first),
// list, show, update, pause, resume, trigger, backfill, delete, and the runs they start.
func TestScheduleCommandsAgainstUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	startUp(t, dir, state, listen)
	conn := []string{"--server", "nats://" + listen, "--data-dir", state}
	book, ledgerPath := scheduledLedger(t, dir)
	run := func(args ...string) result {
		t.Helper()
		return cli(t, dir, append(args, conn...)...)
	}

	// Refused before anything is stored, each naming its field.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"schedule", "add", "bad", book, "--cron", "61 * * * *", "--input", "ledger=x"}, "cron[0]"},
		{[]string{"schedule", "add", "bad", book, "--every", "1h", "--tz", "Mars/Olympus", "--input", "ledger=x"}, "time zone"},
		{[]string{"schedule", "add", "bad", book, "--every", "1h"}, "ledger"},
		{[]string{"schedule", "add", "bad", book, "--every", "1h", "--overlap", "queue", "--input", "ledger=x"}, "overlap"},
		{[]string{"schedule", "add", "bad", book, "--input", "ledger=x"}, "cron"},
		{[]string{"schedule", "add", "bad.name", book, "--every", "1h", "--input", "ledger=x"}, "schedule name"},
	} {
		if r := run(tc.args...); r.code != exitRefused || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if r := run("schedule", "list", "--json"); r.code != exitOK || strings.Contains(r.stdout, `"bad`) {
		t.Fatalf("after refusals: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}

	r := run("schedule", "add", "nightly", book, "--cron", "0 2 * * *", "--tz", "Europe/Berlin",
		"--input", "ledger="+ledgerPath, "--jitter", "10m", "--note", "bravo upgrade", "--json")
	if r.code != exitOK {
		t.Fatalf("schedule add: exit %d: %s", r.code, r.stderr)
	}
	var added protocol.ScheduleInfo
	decodeOne(t, r.stdout, &added)
	if added.Schedule.Owner.Name != "operator" || len(added.Next) != 10 {
		t.Fatalf("added: owner %v, %d next fire times", added.Schedule.Owner, len(added.Next))
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, next := range added.Next {
		local := next.In(berlin)
		if local.Hour() != 2 || local.Minute() >= 10 {
			t.Errorf("fire time %s is not 02:00-02:10 in Berlin", local)
		}
	}
	if r := run("schedule", "add", "nightly", book, "--every", "1h", "--input", "ledger=x"); r.code != exitRefused || !strings.Contains(r.stderr, "exists") {
		t.Errorf("adding a taken name: exit %d %s", r.code, r.stderr)
	}
	text := run("schedule", "show", "nightly")
	if text.code != exitOK || !strings.Contains(text.stdout, "Next fire times:") || !strings.Contains(text.stdout, "cron 0 2 * * * (Europe/Berlin)") {
		t.Fatalf("schedule show: exit %d:\n%s%s", text.code, text.stdout, text.stderr)
	}

	// trigger runs it now, once per key.
	r = run("schedule", "trigger", "nightly", "--key", "deploy-1", "--json")
	var trig protocol.ScheduleActionResponse
	if r.code != exitOK {
		t.Fatalf("schedule trigger: exit %d: %s", r.code, r.stderr)
	}
	decodeOne(t, r.stdout, &trig)
	if len(trig.Slots) != 1 || trig.Slots[0].RunID == "" {
		t.Fatalf("trigger: %+v", trig)
	}
	if r := run("schedule", "trigger", "nightly", "--key", "deploy-1", "--json"); !strings.Contains(r.stdout, trig.Slots[0].RunID) {
		t.Errorf("a repeated trigger gave another outcome: %s", r.stdout)
	}
	var show struct {
		Status   protocol.RunStatus `json:"status"`
		Schedule string             `json:"schedule"`
	}
	natstest.Eventually(t, time.Minute, func() error {
		r := run("runs", "show", trig.Slots[0].RunID, "--json")
		decodeOne(t, r.stdout, &show)
		if !show.Status.Final() {
			return fmt.Errorf("run is %s", show.Status)
		}
		return nil
	})
	if show.Status != protocol.StatusSuccess || show.Schedule != "nightly" {
		t.Fatalf("triggered run %s of schedule %q", show.Status, show.Schedule)
	}
	if r := run("runs", "show", trig.Slots[0].RunID); !strings.Contains(r.stdout, "Schedule: nightly, slot ") {
		t.Errorf("the text report does not name the schedule:\n%s", r.stdout)
	}
	var filtered struct {
		Runs []protocol.RunSummary `json:"runs"`
	}
	decodeOne(t, run("runs", "list", "--schedule", "nightly", "--json").stdout, &filtered)
	if len(filtered.Runs) != 1 || filtered.Runs[0].ID != trig.Slots[0].RunID {
		t.Errorf("runs list --schedule nightly: %+v, want the triggered run", filtered.Runs)
	}

	// update, pause (no next fire times), resume, list.
	if r := run("schedule", "update", "nightly", "--cron", "30 3 * * 1-5", "--overlap", "buffer_one"); r.code != exitOK {
		t.Fatalf("schedule update: exit %d: %s", r.code, r.stderr)
	}
	if r := run("schedule", "update", "nightly", "--cron", "99 3 * * *"); r.code != exitRefused {
		t.Errorf("a bad update: exit %d, want 2", r.code)
	}
	info := scheduleShow(t, dir, "nightly", conn...)
	if info.Schedule.Spec.Cron[0] != "30 3 * * 1-5" || info.Schedule.Policies.Overlap != protocol.OverlapBufferOne || info.Schedule.Spec.TimeZone != "Europe/Berlin" {
		t.Errorf("after update: %+v %+v", info.Schedule.Spec, info.Schedule.Policies)
	}
	if r := run("schedule", "pause", "nightly", "--note", "freeze", "--json"); r.code != exitOK || !strings.Contains(r.stdout, "freeze") {
		t.Fatalf("pause: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	var listed struct {
		Schedules []protocol.ScheduleSummary `json:"schedules"`
	}
	decodeOne(t, run("schedule", "list", "--json").stdout, &listed)
	if len(listed.Schedules) != 1 || !listed.Schedules[0].Paused || !listed.Schedules[0].Next.IsZero() ||
		listed.Schedules[0].Last == nil || listed.Schedules[0].Last.RunID != trig.Slots[0].RunID {
		t.Fatalf("list: %+v", listed.Schedules)
	}
	if r := run("schedule", "resume", "nightly"); r.code != exitOK {
		t.Fatalf("resume: exit %d %s", r.code, r.stderr)
	}
	if r := run("schedule", "list"); r.code != exitOK || !strings.Contains(r.stdout, "nightly") || !strings.Contains(r.stdout, "false") {
		t.Errorf("list text: %s", r.stdout)
	}

	// backfill of a range before the schedule existed (slots of weekdays at 03:30 Berlin).
	r = run("schedule", "backfill", "nightly", "--from", "2026-11-02", "--to", "2026-11-04T12:00", "--tz", "Europe/Berlin", "--json")
	var bf protocol.ScheduleActionResponse
	if r.code != exitOK {
		t.Fatalf("backfill: exit %d: %s", r.code, r.stderr)
	}
	decodeOne(t, r.stdout, &bf)
	if len(bf.Slots) != 3 {
		t.Fatalf("backfill of Mon..Wed noon: %+v, want 3 slots", bf.Slots)
	}
	natstest.Eventually(t, 2*time.Minute, func() error {
		st := scheduleShow(t, dir, "nightly", conn...).Schedule.State
		if st.Fired != 4 || len(st.Buffered)+len(st.Active)+len(st.Firing) > 0 {
			return fmt.Errorf("fired %d, buffered %d, active %d", st.Fired, len(st.Buffered), len(st.Active))
		}
		return nil
	})
	if n := len(ledger(t, ledgerPath)); n != 4 {
		t.Errorf("%d effects, want 4 (one trigger, three backfilled slots)", n)
	}

	// The viewer reads schedules and may not change them.
	viewer := []string{"--server", "nats://" + listen, "--creds", filepath.Join(state, "auth", "creds", "viewer.creds")}
	if r := cli(t, dir, append([]string{"schedule", "list", "--json"}, viewer...)...); r.code != exitOK || !strings.Contains(r.stdout, "nightly") {
		t.Errorf("viewer list: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, dir, append([]string{"schedule", "pause", "nightly"}, viewer...)...); r.code != exitRefused {
		t.Errorf("viewer pause: exit %d %s, want 2", r.code, r.stderr)
	}

	if r := run("schedule", "delete", "nightly"); r.code != exitOK {
		t.Fatalf("delete: exit %d %s", r.code, r.stderr)
	}
	if r := run("schedule", "show", "nightly"); r.code != exitRefused || !strings.Contains(r.stderr, "no schedule nightly") {
		t.Errorf("show after delete: exit %d %s", r.code, r.stderr)
	}
	// Its runs are kept.
	if r := run("runs", "show", trig.Slots[0].RunID, "--json"); r.code != exitOK {
		t.Errorf("the schedule's run after delete: exit %d", r.code)
	}
}
