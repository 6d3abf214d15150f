package protocol

import (
	"regexp"
	"time"
)

// ScheduleVersion is the version of Schedule and of the schedule API's requests and replies.
const ScheduleVersion = 1

// SchedulesBucket holds one Schedule per schedule, keyed by its name. Coordinators change a
// schedule with a compare-and-set on its revision only, so two of them evaluating it at once
// cannot both decide what one slot does.
const SchedulesBucket = "fleetbook_schedules"

// Schedule API endpoints (the coordinators' micro service).
const (
	// ScheduleAddSubject accepts a ScheduleAddRequest and answers a ScheduleInfo.
	ScheduleAddSubject = APIPrefix + ".schedules.add"
	// ScheduleUpdateSubject accepts a ScheduleUpdateRequest and answers a ScheduleInfo.
	ScheduleUpdateSubject = APIPrefix + ".schedules.update"
	// ScheduleGetSubject accepts a ScheduleGetRequest and answers a ScheduleInfo.
	ScheduleGetSubject = APIPrefix + ".schedules.get"
	// ScheduleListSubject accepts a ScheduleListRequest and answers a ScheduleListResponse.
	ScheduleListSubject = APIPrefix + ".schedules.list"
	// SchedulePauseSubject accepts a SchedulePauseRequest and answers a ScheduleInfo.
	SchedulePauseSubject = APIPrefix + ".schedules.pause"
	// ScheduleResumeSubject accepts a SchedulePauseRequest and answers a ScheduleInfo.
	ScheduleResumeSubject = APIPrefix + ".schedules.resume"
	// ScheduleTriggerSubject accepts a ScheduleTriggerRequest and answers a ScheduleActionResponse.
	ScheduleTriggerSubject = APIPrefix + ".schedules.trigger"
	// ScheduleBackfillSubject accepts a ScheduleBackfillRequest and answers a ScheduleActionResponse.
	ScheduleBackfillSubject = APIPrefix + ".schedules.backfill"
	// ScheduleDeleteSubject accepts a ScheduleDeleteRequest and answers a ScheduleActionResponse.
	ScheduleDeleteSubject = APIPrefix + ".schedules.delete"
)

// scheduleName is what a schedule may be called: it is a KV key and appears in idempotency keys,
// listings and URLs.
var scheduleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidScheduleName reports whether name may name a schedule: 1 to 64 letters, digits, - and _,
// starting with a letter or digit.
func ValidScheduleName(name string) bool { return scheduleName.MatchString(name) }

// ScheduleSpec says when a schedule fires. Its slots are the union of its cron expressions' and
// its interval's, within [Start, End], less the excluded ones.
type ScheduleSpec struct {
	// Cron are cron expressions: five fields (minute hour day-of-month month day-of-week), six
	// with seconds first, or a macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight,
	// @hourly). They are read on the wall clock of TimeZone.
	Cron []string `json:"cron,omitempty"`
	// Every is an interval ("30m", "2h", "1d"): slots at the Unix epoch plus Offset plus whole
	// multiples of it, whatever the time zone.
	Every string `json:"every,omitempty"`
	// Offset shifts the interval's slots; it is shorter than Every.
	Offset string `json:"offset,omitempty"`
	// TimeZone is the IANA zone cron expressions and exclusions are read in; empty means UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Start and End bound the slots (both included); zero means unbounded.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Jitter delays each slot's run by a pseudo-random duration below it, the same for a given
	// schedule and slot on every coordinator, so many schedules on one slot do not start at once.
	Jitter string `json:"jitter,omitempty"`
	// Exclude are slots not to fire: a date ("2026-12-25"), a range of dates
	// ("2026-12-24..2026-12-26"), both in TimeZone, or a cron expression whose matching times
	// are excluded.
	Exclude []string `json:"exclude,omitempty"`
}

// OverlapPolicy says what a slot does when the schedule's previous run is still going.
type OverlapPolicy string

// Overlap policies.
const (
	// OverlapSkip records the slot as skipped (the default).
	OverlapSkip OverlapPolicy = "skip"
	// OverlapBufferOne keeps the slot to run once the previous run ends; a second slot that comes
	// while one is buffered is skipped.
	OverlapBufferOne OverlapPolicy = "buffer_one"
	// OverlapBufferAll keeps every such slot, to run one after another.
	OverlapBufferAll OverlapPolicy = "buffer_all"
	// OverlapCancelOther cancels the previous run and starts the slot's.
	OverlapCancelOther OverlapPolicy = "cancel_other"
	// OverlapAllowAll starts the slot's run beside the previous one.
	OverlapAllowAll OverlapPolicy = "allow_all"
)

// OverlapPolicies lists every overlap policy, in the order the documentation gives them.
var OverlapPolicies = []OverlapPolicy{OverlapSkip, OverlapBufferOne, OverlapBufferAll, OverlapCancelOther, OverlapAllowAll}

// DefaultCatchupWindow is how late a slot may still fire when its schedule names no window: after
// every coordinator was down, slots older than this are recorded as missed.
const DefaultCatchupWindow = 5 * time.Minute

// SchedulePolicies say how a schedule behaves when runs overlap, slots are late or runs fail.
type SchedulePolicies struct {
	// Overlap applies to slots that come while a run of the schedule is going; empty means skip.
	Overlap OverlapPolicy `json:"overlap,omitempty"`
	// CatchupWindow is how late a slot may still fire (a duration such as "10m"); empty means
	// DefaultCatchupWindow.
	CatchupWindow string `json:"catchup_window,omitempty"`
	// PauseOnFailure pauses the schedule when one of its runs fails.
	PauseOnFailure bool `json:"pause_on_failure,omitempty"`
}

// SlotOutcome is what became of one slot.
type SlotOutcome string

// Slot outcomes.
const (
	// SlotFired: a run was submitted for the slot.
	SlotFired SlotOutcome = "fired"
	// SlotSkipped: the overlap policy skipped it.
	SlotSkipped SlotOutcome = "skipped"
	// SlotBuffered: it waits for the previous run to end (buffer_one, buffer_all).
	SlotBuffered SlotOutcome = "buffered"
	// SlotMissed: it was older than the catch-up window when a coordinator came to it.
	SlotMissed SlotOutcome = "missed"
	// SlotRefused: the run was refused (the policy no longer lets the schedule's owner submit
	// the playbook, or the queue was full); Error says why.
	SlotRefused SlotOutcome = "refused"
)

// SlotRecord is one slot of a schedule's history.
type SlotRecord struct {
	// Slot is the slot's time (before jitter); for a triggered run, when it was triggered.
	Slot    time.Time   `json:"slot"`
	Outcome SlotOutcome `json:"outcome"`
	// Trigger says the slot came from `schedule trigger` or `schedule backfill`, not the calendar.
	Trigger string `json:"trigger,omitempty"`
	// Key is the idempotency key of the slot's run.
	Key   string `json:"key,omitempty"`
	RunID string `json:"run_id,omitempty"`
	// Status is the run's status as last seen by the schedule.
	Status RunStatus `json:"status,omitempty"`
	Error  string    `json:"error,omitempty"`
	// At is when the outcome was decided.
	At time.Time `json:"at"`
}

// PendingSlot is a slot whose run is decided but not yet known to be submitted, or that waits
// in the buffer for the previous run to end.
type PendingSlot struct {
	Slot time.Time `json:"slot"`
	// Key is the idempotency key of the slot's run: the same key on every coordinator, so the
	// slot gives one run however many times it is submitted.
	Key string `json:"key"`
	// Trigger is as in SlotRecord.
	Trigger string `json:"trigger,omitempty"`
	// Overlap is the policy the slot is under (a backfill names its own).
	Overlap OverlapPolicy `json:"overlap,omitempty"`
	// Cancel are the runs to cancel first (cancel_other).
	Cancel []string `json:"cancel,omitempty"`
}

// ScheduleState is what coordinators record of a schedule as they evaluate it.
type ScheduleState struct {
	// Cursor is the last calendar slot decided: every slot at or before it has fired, been
	// skipped, buffered or missed. Zero until the first evaluation, which starts it at the time
	// the schedule was added (or resumed).
	Cursor time.Time `json:"cursor,omitzero"`
	// Firing are slots decided to fire whose runs are submitted next; a coordinator that dies
	// before recording the run leaves the slot here, and the next evaluation submits it again
	// with the same key.
	Firing []PendingSlot `json:"firing,omitempty"`
	// Buffered are slots waiting for the running run to end (buffer_one, buffer_all, backfill).
	Buffered []PendingSlot `json:"buffered,omitempty"`
	// Active are the runs of the schedule not yet seen to end.
	Active []string `json:"active,omitempty"`
	// History is the latest slots, newest last, at most ScheduleHistory of them.
	History []SlotRecord `json:"history,omitempty"`
	// Counts of slots by outcome, since the schedule was added.
	Fired   int `json:"fired"`
	Skipped int `json:"skipped"`
	Missed  int `json:"missed"`
	Refused int `json:"refused"`
}

// ScheduleHistory bounds ScheduleState.History.
const ScheduleHistory = 50

// Schedule is a named schedule as stored in SchedulesBucket.
type Schedule struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	// UID is made when the schedule is added and is part of every slot's idempotency key, so a
	// schedule deleted and added again under its name never meets the old one's runs.
	UID      string           `json:"uid"`
	Spec     ScheduleSpec     `json:"spec"`
	Policies SchedulePolicies `json:"policies"`
	// Playbook is the playbook document the schedule runs; PlaybookRef names it.
	Playbook    string            `json:"playbook"`
	PlaybookRef PlaybookRef       `json:"playbook_ref"`
	Source      string            `json:"source,omitempty"`
	Files       map[string]string `json:"files,omitempty"`
	// Inputs are the given inputs; sensitive ones are sealed (SealedPrefix) under the secrets key.
	Inputs map[string]any `json:"inputs,omitempty"`
	// Timeout limits each run, as SubmitRequest.Timeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Owner is the verified identity that last set the playbook or inputs: its runs are
	// submitted as it, and the policy is asked again at every slot.
	Owner     Identity  `json:"owner,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Paused stops the calendar; Note says who paused it and why.
	Paused bool          `json:"paused,omitempty"`
	Note   string        `json:"note,omitempty"`
	State  ScheduleState `json:"state"`
}

// ScheduleAddRequest adds a schedule. The playbook and inputs are validated as a submission's
// are, so a schedule that could never run is refused when it is added.
type ScheduleAddRequest struct {
	Version  int               `json:"version"`
	Name     string            `json:"name"`
	Playbook string            `json:"playbook"`
	Source   string            `json:"source,omitempty"`
	Files    map[string]string `json:"files,omitempty"`
	Inputs   map[string]any    `json:"inputs,omitempty"`
	Spec     ScheduleSpec      `json:"spec"`
	Policies SchedulePolicies  `json:"policies"`
	Timeout  time.Duration     `json:"timeout,omitempty"`
	// Paused adds the schedule paused, with Note.
	Paused bool   `json:"paused,omitempty"`
	Note   string `json:"note,omitempty"`
}

// ScheduleUpdateRequest changes a schedule: each field given replaces the schedule's; a field
// left out keeps its value. Inputs, when given, replace every input.
type ScheduleUpdateRequest struct {
	Version  int               `json:"version"`
	Name     string            `json:"name"`
	Playbook *string           `json:"playbook,omitempty"`
	Source   *string           `json:"source,omitempty"`
	Files    map[string]string `json:"files,omitempty"`
	Inputs   map[string]any    `json:"inputs,omitempty"`
	Spec     *ScheduleSpec     `json:"spec,omitempty"`
	Policies *SchedulePolicies `json:"policies,omitempty"`
	Timeout  *time.Duration    `json:"timeout,omitempty"`
}

// ScheduleGetRequest asks for one schedule with its next fire times and latest runs.
type ScheduleGetRequest struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	// Next is how many fire times to compute (0 means 10, at most 100).
	Next int `json:"next,omitempty"`
}

// ScheduleInfo is a schedule as the API shows it: sensitive inputs redacted, its next fire times.
type ScheduleInfo struct {
	Version  int      `json:"version"`
	Schedule Schedule `json:"schedule"`
	// Next are the next slots the calendar fires (with jitter applied), after now.
	Next []time.Time `json:"next"`
}

// ScheduleListRequest asks for every schedule the caller may read.
type ScheduleListRequest struct {
	Version int `json:"version"`
}

// ScheduleSummary is one line of a schedule listing.
type ScheduleSummary struct {
	Name     string           `json:"name"`
	Playbook PlaybookRef      `json:"playbook"`
	Spec     ScheduleSpec     `json:"spec"`
	Policies SchedulePolicies `json:"policies"`
	Paused   bool             `json:"paused"`
	Note     string           `json:"note,omitempty"`
	// Next is the next fire time, zero when the calendar has none (ended, or paused).
	Next time.Time `json:"next,omitzero"`
	// Last is the latest slot that has a run, if any.
	Last *SlotRecord `json:"last,omitempty"`
}

// ScheduleListResponse answers a ScheduleListRequest.
type ScheduleListResponse struct {
	Version   int               `json:"version"`
	Schedules []ScheduleSummary `json:"schedules"`
}

// SchedulePauseRequest pauses or resumes a schedule. A resumed schedule fires from the moment it
// is resumed: slots that fell while it was paused never fire.
type SchedulePauseRequest struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Note    string `json:"note,omitempty"`
}

// ScheduleTriggerRequest runs a schedule now, under its overlap policy.
type ScheduleTriggerRequest struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	// Key makes the trigger safe to repeat: the same key never starts a second run.
	Key string `json:"key"`
}

// ScheduleBackfillRequest fires every calendar slot in [From, To] that has not fired yet, under
// Overlap (empty means buffer_all). A slot that already ran is not run again: it has the same
// idempotency key as when the calendar fired it.
type ScheduleBackfillRequest struct {
	Version int           `json:"version"`
	Name    string        `json:"name"`
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Overlap OverlapPolicy `json:"overlap,omitempty"`
}

// MaxBackfillSlots bounds the slots one backfill request may fire.
const MaxBackfillSlots = 1000

// ScheduleDeleteRequest deletes a schedule; its runs are kept.
type ScheduleDeleteRequest struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
}

// ScheduleActionResponse answers trigger, backfill and delete.
type ScheduleActionResponse struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	// Slots are the slots the action decided on, with their outcome so far: for a trigger,
	// one (fired with its run id, skipped or buffered); for a backfill, every slot of the range.
	Slots []SlotRecord `json:"slots,omitempty"`
	// Buffered counts the slots of the action left waiting for a previous run.
	Buffered int `json:"buffered,omitempty"`
}
