package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/schedule"
)

// defaultNextFires is how many fire times a ScheduleInfo lists when the request names none;
// maxNextFires bounds it.
const (
	defaultNextFires = 10
	maxNextFires     = 100
)

// decodeRequest decodes an API request body. Unknown fields were refused before (strictRequest:
// a misspelt policy or spec key would otherwise be dropped, and the schedule run on defaults).
func decodeRequest(data []byte, v any) *protocol.ErrorResponse {
	if err := json.Unmarshal(data, v); err != nil {
		return apiError(protocol.CodeBadRequest, "decode request: %v", err)
	}
	return nil
}

// scheduleName checks a request's schedule name.
func scheduleName(name string) *protocol.ErrorResponse {
	if !protocol.ValidScheduleName(name) {
		return apiError(protocol.CodeBadRequest, "name: %q is not a schedule name (1 to 64 letters, digits, - and _, starting with a letter or digit)", name)
	}
	return nil
}

// CheckSchedule checks a schedule's spec and policies as the coordinators do when they store
// them. The error, when there is one, is a *protocol.ErrorResponse naming every problem with its
// field ("spec.cron[0]", "policies.overlap").
func CheckSchedule(spec protocol.ScheduleSpec, pol protocol.SchedulePolicies) error {
	if apiErr := checkSpec(spec, pol); apiErr != nil {
		return apiErr
	}
	return nil
}

// maxCronExpressions and maxExclusions bound a spec's lists: every coordinator walks each of
// them for every schedule at every evaluation, so their cost must stay small whatever is stored.
const (
	maxCronExpressions = 32
	maxExclusions      = 64
)

// checkSpec compiles spec and policies, returning every problem with its field.
func checkSpec(spec protocol.ScheduleSpec, pol protocol.SchedulePolicies) *protocol.ErrorResponse {
	var probs []protocol.Problem
	if len(spec.Cron) > maxCronExpressions {
		return &protocol.ErrorResponse{Code: protocol.CodeBadRequest, Message: "invalid schedule", Problems: []protocol.Problem{{
			Path: "spec.cron", Message: fmt.Sprintf("%d expressions: at most %d", len(spec.Cron), maxCronExpressions)}}}
	}
	if len(spec.Exclude) > maxExclusions {
		return &protocol.ErrorResponse{Code: protocol.CodeBadRequest, Message: "invalid schedule", Problems: []protocol.Problem{{
			Path: "spec.exclude", Message: fmt.Sprintf("%d exclusions: at most %d", len(spec.Exclude), maxExclusions)}}}
	}
	if _, err := schedule.Compile(spec); err != nil {
		var errs *schedule.SpecErrors
		var one *schedule.SpecError
		switch {
		case errors.As(err, &errs):
			for _, e := range *errs {
				probs = append(probs, protocol.Problem{Path: "spec." + e.Field, Message: e.Message})
			}
		case errors.As(err, &one):
			probs = append(probs, protocol.Problem{Path: "spec." + one.Field, Message: one.Message})
		default:
			probs = append(probs, protocol.Problem{Path: "spec", Message: err.Error()})
		}
	}
	if pol.Overlap != "" && !slices.Contains(protocol.OverlapPolicies, pol.Overlap) {
		probs = append(probs, protocol.Problem{Path: "policies.overlap",
			Message: fmt.Sprintf("unknown overlap policy %q (one of %v)", pol.Overlap, protocol.OverlapPolicies)})
	}
	if pol.CatchupWindow != "" {
		if d, err := schedule.ParseDuration(pol.CatchupWindow); err != nil || d < time.Second {
			probs = append(probs, protocol.Problem{Path: "policies.catchup_window",
				Message: fmt.Sprintf("%q is not a duration of at least 1s (like 90s, 10m, 1d)", pol.CatchupWindow)})
		}
	}
	if len(probs) > 0 {
		return &protocol.ErrorResponse{Code: protocol.CodeBadRequest, Message: "invalid schedule", Problems: probs}
	}
	return nil
}

// checkAhead refuses a spec with no slot after now: a schedule that can never fire again is a
// mistake to say when it is stored, not a schedule that silently does nothing.
func checkAhead(spec protocol.ScheduleSpec, now time.Time) *protocol.ErrorResponse {
	cal, err := schedule.Compile(spec)
	if err != nil {
		return checkSpec(spec, protocol.SchedulePolicies{})
	}
	if _, ok := cal.Next(now); !ok {
		return &protocol.ErrorResponse{Code: protocol.CodeBadRequest, Message: "invalid schedule",
			Problems: []protocol.Problem{{Path: "spec", Message: "the calendar has no slot after now: its end has passed, or every slot is excluded"}}}
	}
	return nil
}

// checkPlaybook validates a schedule's playbook and inputs exactly as a submission, so a schedule
// that could never run is refused when it is stored, not at its first slot. It returns the
// playbook and the inputs to store: as given, with the sensitive ones sealed.
func (c *Coordinator) checkPlaybook(doc string, given map[string]any, files map[string]string) (*playbooks.Playbook, map[string]any, *protocol.ErrorResponse) {
	pb, _, err := c.validate(doc, given)
	if err != nil {
		return nil, nil, asAPIError(err)
	}
	if apiErr := checkFiles(pb, files); apiErr != nil {
		return nil, nil, apiErr
	}
	stored := make(map[string]any, len(given))
	for name, v := range given {
		if in, ok := pb.Input(name); ok && in.Sensitive {
			sealed, err := c.opts.keys.SealValue(v)
			if err != nil {
				return nil, nil, apiError(protocol.CodeInternal, "seal input %s: %v", name, err)
			}
			v = sealed
		}
		stored[name] = v
	}
	return pb, stored, nil
}

// permitSchedule asks the policy whether who may manage schedule name of playbook ref, and
// audits the decision.
func (c *Coordinator) permitSchedule(ctx context.Context, who protocol.Identity, name string, ref protocol.PlaybookRef) *protocol.ErrorResponse {
	rec, apiErr := c.permit(ctx, who, policy.Schedule, &ref, "")
	if apiErr != nil {
		return apiErr
	}
	rec.Schedule = name
	if err := c.writeAudit(ctx, rec); err != nil {
		return apiError(protocol.CodeInternal, "%v", err)
	}
	return nil
}

func (c *Coordinator) handleScheduleAdd(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ScheduleAddRequest
	if apiErr := decodeRequest(r.data, &req); apiErr != nil {
		return nil, apiErr
	}
	if req.Version != protocol.ScheduleVersion {
		return nil, apiError(protocol.CodeBadRequest, "unsupported schedule request version %d (this coordinator speaks %d)", req.Version, protocol.ScheduleVersion)
	}
	if apiErr := scheduleName(req.Name); apiErr != nil {
		return nil, apiErr
	}
	if _, apiErr := c.permit(ctx, r.who, policy.Schedule, nil, ""); apiErr != nil {
		return nil, apiErr
	}
	if req.Timeout < 0 {
		return nil, apiError(protocol.CodeBadRequest, "timeout must not be negative, got %s", req.Timeout)
	}
	if apiErr := checkSpec(req.Spec, req.Policies); apiErr != nil {
		return nil, apiErr
	}
	if apiErr := checkAhead(req.Spec, c.opts.now()); apiErr != nil {
		return nil, apiErr
	}
	pb, inputs, apiErr := c.checkPlaybook(req.Playbook, req.Inputs, req.Files)
	if apiErr != nil {
		return nil, apiErr
	}
	ref := protocol.PlaybookRef{Name: pb.Name, Version: pb.Version, Tags: pb.Tags}
	// Every slot's run is a submission by who: one who may not submit the playbook may not
	// schedule it either.
	if _, apiErr := c.permit(ctx, r.who, policy.Submit, &ref, ""); apiErr != nil {
		return nil, apiErr
	}
	if apiErr := c.permitSchedule(ctx, r.who, req.Name, ref); apiErr != nil {
		return nil, apiErr
	}
	now := c.opts.now().UTC()
	sc := &protocol.Schedule{
		Version: protocol.ScheduleVersion, Name: req.Name, UID: uuid.NewString(),
		Spec: req.Spec, Policies: req.Policies, Playbook: req.Playbook, PlaybookRef: ref, Source: req.Source,
		Files: req.Files, Inputs: inputs, Timeout: req.Timeout, Owner: r.who, CreatedAt: now, UpdatedAt: now,
		Paused: req.Paused, Note: req.Note,
		State: protocol.ScheduleState{Cursor: now},
	}
	if _, err := c.schedules.Create(ctx, sc); errors.Is(err, kvstore.ErrExists) {
		return nil, apiError(protocol.CodeConflict, "schedule %s exists; change it with update, or delete it first", req.Name)
	} else if err != nil {
		return nil, apiError(protocol.CodeInternal, "store schedule: %v", err)
	}
	c.opts.log.Info("schedule added", "schedule", sc.Name, "playbook", ref.Name, "by", r.who.String())
	return c.scheduleInfo(sc, 0), nil
}

// loadSchedule reads schedule name for who, who must be allowed action on its playbook (read,
// or schedule, audited).
func (c *Coordinator) loadSchedule(ctx context.Context, who protocol.Identity, name string, action policy.Action) (*protocol.Schedule, *protocol.ErrorResponse) {
	if apiErr := scheduleName(name); apiErr != nil {
		return nil, apiErr
	}
	// Who may do nothing of the kind learns nothing, not even whether the schedule exists.
	if _, apiErr := c.permit(ctx, who, action, nil, ""); apiErr != nil {
		return nil, apiErr
	}
	if c.schedules == nil {
		return nil, apiError(protocol.CodeNotFound, "no schedule %s (this store has no schedules)", name)
	}
	sc, _, err := c.schedules.Get(ctx, name)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, apiError(protocol.CodeNotFound, "no schedule %s", name)
	}
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "load schedule %s: %v", name, err)
	}
	if action == policy.Read {
		if _, apiErr := c.permit(ctx, who, policy.Read, &sc.PlaybookRef, ""); apiErr != nil {
			return nil, apiErr
		}
		return sc, nil
	}
	if apiErr := c.permitSchedule(ctx, who, name, sc.PlaybookRef); apiErr != nil {
		return nil, apiErr
	}
	return sc, nil
}

// changeSchedule applies f to schedule name (see Schedules.Change), mapping storage errors.
func (c *Coordinator) changeSchedule(ctx context.Context, name string, f func(*protocol.Schedule) (bool, error)) (*protocol.Schedule, *protocol.ErrorResponse) {
	sc, err := c.changeCounted(ctx, name, f)
	var apiErr *protocol.ErrorResponse
	switch {
	case err == nil:
		return sc, nil
	case errors.As(err, &apiErr):
		return nil, apiErr
	case errors.Is(err, kvstore.ErrNotFound):
		return nil, apiError(protocol.CodeNotFound, "no schedule %s", name)
	}
	return nil, apiError(protocol.CodeInternal, "change schedule %s: %v", name, err)
}

func (c *Coordinator) handleScheduleUpdate(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ScheduleUpdateRequest
	if apiErr := decodeRequest(r.data, &req); apiErr != nil {
		return nil, apiErr
	}
	if req.Version != protocol.ScheduleVersion {
		return nil, apiError(protocol.CodeBadRequest, "unsupported schedule request version %d (this coordinator speaks %d)", req.Version, protocol.ScheduleVersion)
	}
	old, apiErr := c.loadSchedule(ctx, r.who, req.Name, policy.Schedule)
	if apiErr != nil {
		return nil, apiErr
	}
	if req.Timeout != nil && *req.Timeout < 0 {
		return nil, apiError(protocol.CodeBadRequest, "timeout must not be negative, got %s", *req.Timeout)
	}
	spec, pol := old.Spec, old.Policies
	if req.Spec != nil {
		spec = *req.Spec
	}
	if req.Policies != nil {
		pol = *req.Policies
	}
	if apiErr := checkSpec(spec, pol); apiErr != nil {
		return nil, apiErr
	}
	if req.Spec != nil {
		if apiErr := checkAhead(spec, c.opts.now()); apiErr != nil {
			return nil, apiErr
		}
	}
	// The playbook and inputs are checked together as the next slot will submit them.
	doc, files := old.Playbook, old.Files
	if req.Playbook != nil {
		doc = *req.Playbook
	}
	if req.Files != nil {
		files = req.Files
	}
	given := req.Inputs
	if given == nil {
		var err error
		if given, err = c.openInputs(old.Inputs); err != nil {
			return nil, apiError(protocol.CodeInternal, "open the schedule's sensitive inputs: %v", err)
		}
	}
	pb, inputs, apiErr := c.checkPlaybook(doc, given, files)
	if apiErr != nil {
		return nil, apiErr
	}
	ref := protocol.PlaybookRef{Name: pb.Name, Version: pb.Version, Tags: pb.Tags}
	ownerChanges := req.Playbook != nil || req.Inputs != nil || req.Files != nil
	if ownerChanges {
		if _, apiErr := c.permit(ctx, r.who, policy.Submit, &ref, ""); apiErr != nil {
			return nil, apiErr
		}
		if ref.Name != old.PlaybookRef.Name {
			if apiErr := c.permitSchedule(ctx, r.who, req.Name, ref); apiErr != nil {
				return nil, apiErr
			}
		}
	}
	sc, apiErr := c.changeSchedule(ctx, req.Name, func(sc *protocol.Schedule) (bool, error) {
		if sc.UID != old.UID {
			return false, apiError(protocol.CodeConflict, "schedule %s was deleted and added again meanwhile; look at it again", req.Name)
		}
		sc.Spec, sc.Policies = spec, pol
		if req.Source != nil {
			sc.Source = *req.Source
		}
		if req.Timeout != nil {
			sc.Timeout = *req.Timeout
		}
		if ownerChanges {
			sc.Playbook, sc.PlaybookRef, sc.Files, sc.Inputs, sc.Owner = doc, ref, files, inputs, r.who
		}
		sc.UpdatedAt = c.opts.now().UTC()
		return true, nil
	})
	if apiErr != nil {
		return nil, apiErr
	}
	c.opts.log.Info("schedule updated", "schedule", sc.Name, "by", r.who.String())
	return c.scheduleInfo(sc, 0), nil
}

func (c *Coordinator) handleScheduleGet(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ScheduleGetRequest
	if apiErr := decodeRequest(r.data, &req); apiErr != nil {
		return nil, apiErr
	}
	if req.Next < 0 || req.Next > maxNextFires {
		return nil, apiError(protocol.CodeBadRequest, "next: give 1 to %d (0: %d), got %d", maxNextFires, defaultNextFires, req.Next)
	}
	sc, apiErr := c.loadSchedule(ctx, r.who, req.Name, policy.Read)
	if apiErr != nil {
		return nil, apiErr
	}
	return c.scheduleInfo(sc, req.Next), nil
}

// scheduleInfo is sc as the API shows it: sensitive inputs redacted, the next n fire times.
func (c *Coordinator) scheduleInfo(sc *protocol.Schedule, n int) *protocol.ScheduleInfo {
	if n <= 0 {
		n = defaultNextFires
	}
	shown := *sc
	shown.Inputs = redactSealed(sc.Inputs)
	info := &protocol.ScheduleInfo{Version: protocol.ScheduleVersion, Schedule: shown, Next: []time.Time{}}
	if sc.Paused {
		return info
	}
	cal, err := schedule.Compile(sc.Spec)
	if err != nil {
		return info
	}
	from := c.opts.now().UTC()
	if sc.State.Cursor.After(from) {
		from = sc.State.Cursor
	}
	slots, _ := cal.Between(sc.State.Cursor, farFuture(from), n+len(sc.State.Firing))
	for _, s := range slots {
		if f := cal.FireTime(sc.UID, s); f.After(from) && len(info.Next) < n {
			info.Next = append(info.Next, f)
		}
	}
	return info
}

// farFuture bounds the search for a schedule's next fire times: a calendar with no slot in
// twenty years is as good as ended for a listing.
func farFuture(t time.Time) time.Time { return t.AddDate(20, 0, 0) }

// redactSealed returns inputs with every sealed value replaced by protocol.Redacted.
func redactSealed(inputs map[string]any) map[string]any {
	out := maps.Clone(inputs)
	for k, v := range out {
		if s, ok := v.(string); ok && len(s) >= len(protocol.SealedPrefix) && s[:len(protocol.SealedPrefix)] == protocol.SealedPrefix {
			out[k] = protocol.Redacted
		}
	}
	return out
}

func (c *Coordinator) handleScheduleList(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ScheduleListRequest
	if len(r.data) > 0 {
		if apiErr := decodeRequest(r.data, &req); apiErr != nil {
			return nil, apiErr
		}
	}
	if _, apiErr := c.permit(ctx, r.who, policy.Read, nil, ""); apiErr != nil {
		return nil, apiErr
	}
	var list []*protocol.Schedule
	if c.schedules != nil {
		var err error
		if list, err = c.schedules.List(ctx); err != nil {
			return nil, apiError(protocol.CodeInternal, "list schedules: %v", err)
		}
	}
	resp := protocol.ScheduleListResponse{Version: protocol.ScheduleVersion, Schedules: []protocol.ScheduleSummary{}}
	for _, sc := range list {
		if !c.decide(r.who, policy.Read, &sc.PlaybookRef).Allowed {
			continue
		}
		sum := protocol.ScheduleSummary{Name: sc.Name, Playbook: sc.PlaybookRef, Spec: sc.Spec, Policies: sc.Policies,
			Paused: sc.Paused, Note: sc.Note}
		if next := c.scheduleInfo(sc, 1).Next; len(next) > 0 {
			sum.Next = next[0]
		}
		for i := len(sc.State.History) - 1; i >= 0; i-- {
			if h := sc.State.History[i]; h.RunID != "" {
				sum.Last = &h
				break
			}
		}
		resp.Schedules = append(resp.Schedules, sum)
	}
	return resp, nil
}

// handleSchedulePause pauses (pause true) or resumes a schedule. A resumed schedule's cursor
// moves to now: the slots of the pause never fire, so a resume brings no burst of old runs.
func (c *Coordinator) handleSchedulePause(pause bool) apiHandler {
	return func(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
		var req protocol.SchedulePauseRequest
		if apiErr := decodeRequest(r.data, &req); apiErr != nil {
			return nil, apiErr
		}
		if _, apiErr := c.loadSchedule(ctx, r.who, req.Name, policy.Schedule); apiErr != nil {
			return nil, apiErr
		}
		verb := "resumed"
		if pause {
			verb = "paused"
		}
		note := fmt.Sprintf("%s by %s", verb, r.who)
		if req.Note != "" {
			note += ": " + req.Note
		}
		sc, apiErr := c.changeSchedule(ctx, req.Name, func(sc *protocol.Schedule) (bool, error) {
			if sc.Paused == pause {
				return false, nil
			}
			now := c.opts.now().UTC()
			sc.Paused, sc.Note, sc.UpdatedAt = pause, note, now
			if !pause && sc.State.Cursor.Before(now) {
				sc.State.Cursor = now
			}
			return true, nil
		})
		if apiErr != nil {
			return nil, apiErr
		}
		c.opts.log.Info("schedule "+verb, "schedule", sc.Name, "by", r.who.String())
		return c.scheduleInfo(sc, 0), nil
	}
}

func (c *Coordinator) handleScheduleTrigger(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ScheduleTriggerRequest
	if apiErr := decodeRequest(r.data, &req); apiErr != nil {
		return nil, apiErr
	}
	if req.Key == "" {
		return nil, apiError(protocol.CodeBadRequest, "key is required: it makes the trigger safe to repeat")
	}
	if _, apiErr := c.loadSchedule(ctx, r.who, req.Name, policy.Schedule); apiErr != nil {
		return nil, apiErr
	}
	var key string
	var outcome protocol.SlotOutcome
	sc, apiErr := c.changeSchedule(ctx, req.Name, func(sc *protocol.Schedule) (bool, error) {
		now := c.opts.now().UTC()
		key, outcome = triggerKey(sc, req.Key), ""
		if known(&sc.State, key) || slices.ContainsFunc(sc.State.History, func(h protocol.SlotRecord) bool { return h.Key == key }) {
			return false, nil // a retry of a trigger already decided
		}
		changed, err := c.advance(ctx, sc, now)
		if err != nil {
			return changed, err
		}
		outcome = decide(&sc.State, protocol.PendingSlot{Slot: now, Key: key, Trigger: "trigger", Overlap: sc.Policies.Overlap}, now)
		return true, nil
	})
	if apiErr != nil {
		return nil, apiErr
	}
	resp := &protocol.ScheduleActionResponse{Version: protocol.ScheduleVersion, Name: sc.Name}
	for _, rec := range c.fireDecided(ctx, sc) {
		if rec.Key == key {
			resp.Slots = append(resp.Slots, rec)
		}
	}
	if len(resp.Slots) == 0 {
		resp.Slots = c.slotsWithKey(ctx, sc.Name, key)
	}
	if outcome == protocol.SlotBuffered {
		resp.Buffered = 1
	}
	return resp, nil
}

// slotsWithKey is the latest record of the slot with key, read again from the store (the slot
// was decided, or fired, by an earlier request or another coordinator).
func (c *Coordinator) slotsWithKey(ctx context.Context, name, key string) []protocol.SlotRecord {
	sc, _, err := c.schedules.Get(ctx, name)
	if err != nil {
		return nil
	}
	for i := len(sc.State.History) - 1; i >= 0; i-- {
		if sc.State.History[i].Key == key {
			return []protocol.SlotRecord{sc.State.History[i]}
		}
	}
	for _, p := range slices.Concat(sc.State.Firing, sc.State.Buffered) {
		if p.Key == key {
			return []protocol.SlotRecord{{Slot: p.Slot, Trigger: p.Trigger, Key: p.Key, Outcome: protocol.SlotBuffered}}
		}
	}
	return nil
}

func (c *Coordinator) handleScheduleBackfill(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ScheduleBackfillRequest
	if apiErr := decodeRequest(r.data, &req); apiErr != nil {
		return nil, apiErr
	}
	if req.Overlap == "" {
		req.Overlap = protocol.OverlapBufferAll
	}
	switch {
	case !slices.Contains(protocol.OverlapPolicies, req.Overlap):
		return nil, apiError(protocol.CodeBadRequest, "overlap: unknown overlap policy %q (one of %v)", req.Overlap, protocol.OverlapPolicies)
	case req.From.IsZero() || req.To.IsZero():
		return nil, apiError(protocol.CodeBadRequest, "from and to are required")
	case req.To.Before(req.From):
		return nil, apiError(protocol.CodeBadRequest, "to (%s) is before from (%s)", req.To.Format(time.RFC3339), req.From.Format(time.RFC3339))
	}
	old, apiErr := c.loadSchedule(ctx, r.who, req.Name, policy.Schedule)
	if apiErr != nil {
		return nil, apiErr
	}
	cal, err := schedule.Compile(old.Spec)
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "schedule %s: %v", old.Name, err)
	}
	// Slots after the cursor are the calendar's to fire (or miss) in their turn.
	to := req.To
	if now := c.opts.now().UTC(); to.After(now) {
		to = now
	}
	slots, more := cal.Between(req.From.Add(-time.Nanosecond), to, protocol.MaxBackfillSlots)
	if more {
		return nil, apiError(protocol.CodeBadRequest, "from..to holds more than %d slots; backfill it in parts", protocol.MaxBackfillSlots)
	}
	// A slot that ran before keeps its run: its key is the slot's, whoever fired it.
	ran := map[string]string{}
	for _, s := range slots {
		if sub, err := c.submissions.Lookup(ctx, slotKey(old, s)); err == nil {
			ran[slotKey(old, s)] = sub.RunID
		}
	}
	resp := &protocol.ScheduleActionResponse{Version: protocol.ScheduleVersion, Name: old.Name}
	sc, apiErr := c.changeSchedule(ctx, req.Name, func(sc *protocol.Schedule) (bool, error) {
		if sc.UID != old.UID {
			return false, apiError(protocol.CodeConflict, "schedule %s was deleted and added again meanwhile", req.Name)
		}
		now := c.opts.now().UTC()
		resp.Slots, resp.Buffered = nil, 0
		if _, err := c.advance(ctx, sc, now); err != nil {
			return false, err
		}
		for _, s := range slots {
			key := slotKey(sc, s)
			switch {
			case s.After(sc.State.Cursor):
				continue
			case ran[key] != "":
				resp.Slots = append(resp.Slots, protocol.SlotRecord{Slot: s, Outcome: protocol.SlotFired, Trigger: "backfill",
					Key: key, RunID: ran[key], Error: "already ran", At: now})
				continue
			case known(&sc.State, key):
				continue
			}
			outcome := decide(&sc.State, protocol.PendingSlot{Slot: s, Key: key, Trigger: "backfill", Overlap: req.Overlap}, now)
			if outcome == protocol.SlotBuffered {
				resp.Buffered++
			}
			resp.Slots = append(resp.Slots, protocol.SlotRecord{Slot: s, Outcome: outcome, Trigger: "backfill", Key: key, At: now})
		}
		startBuffered(&sc.State, now)
		return true, nil
	})
	if apiErr != nil {
		return nil, apiErr
	}
	fired := map[string]protocol.SlotRecord{}
	for _, rec := range c.fireDecided(ctx, sc) {
		fired[rec.Key] = rec
	}
	for i, s := range resp.Slots {
		if rec, ok := fired[s.Key]; ok {
			resp.Slots[i] = rec
			if s.Outcome == protocol.SlotBuffered {
				resp.Buffered--
			}
		}
	}
	c.opts.log.Info("schedule backfilled", "schedule", sc.Name, "slots", len(resp.Slots), "by", r.who.String())
	return resp, nil
}

func (c *Coordinator) handleScheduleDelete(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ScheduleDeleteRequest
	if apiErr := decodeRequest(r.data, &req); apiErr != nil {
		return nil, apiErr
	}
	sc, apiErr := c.loadSchedule(ctx, r.who, req.Name, policy.Schedule)
	if apiErr != nil {
		return nil, apiErr
	}
	if err := c.schedules.Delete(ctx, sc.Name); err != nil && !errors.Is(err, kvstore.ErrNotFound) {
		return nil, apiError(protocol.CodeInternal, "delete schedule %s: %v", sc.Name, err)
	}
	c.opts.log.Info("schedule deleted", "schedule", sc.Name, "by", r.who.String())
	return &protocol.ScheduleActionResponse{Version: protocol.ScheduleVersion, Name: sc.Name}, nil
}
