// Package schedule turns a protocol.ScheduleSpec into the times its schedule fires. It is pure
// calendar arithmetic: no NATS, no clock of its own, so every coordinator that evaluates a
// schedule computes the same slots, fire times and answers.
//
// A spec's slots are the union, in ascending order and without duplicates, of its cron
// expressions' slots and its interval's, kept when they fall within [Start, End] (both included;
// zero means unbounded) and are not excluded. Returned times are in UTC.
//
// Cron expressions have five fields (minute hour day-of-month month day-of-week), six with
// seconds first, or are one of the macros @yearly, @annually, @monthly, @weekly, @daily,
// @midnight and @hourly. github.com/robfig/cron/v3 parses them (field syntax, names such as
// "mon" and "jan", and its day rule: when neither day field is "*" or "?", a day matching either
// one matches). Its own Next is not used to find slots, because it loses times that fall in a
// daylight-saving gap and fires twice the times of a repeated hour. Instead an expression is
// matched against the wall clock of the spec's time zone (UTC when none is given), and each
// matching wall-clock time is one slot at the instant the clock shows it:
//   - a time the clock shows twice (the repeated hour when it falls back) fires once, at the
//     earlier instant;
//   - a time the clock never shows (the hour it skips when it springs forward) fires once, at
//     the first instant after the gap: "30 2 * * *" fires at 03:00 CEST on the day Europe/Berlin
//     springs forward from 02:00 to 03:00, and the skipped 02:00, 02:15, 02:30 and 02:45 of
//     "*/15 * * * *" fire together, once, at 03:00 CEST, the same slot as its 03:00.
//
// TZ= and CRON_TZ= prefixes are refused (the spec's time_zone says the zone), and so is @every
// (the spec's every says the interval).
//
// Every is absolute time, not the wall clock: its slots are at the Unix epoch plus Offset plus
// whole multiples of Every (at least one second), whatever the zone and its transitions, so
// "every: 1h" fires every 60 minutes also across a daylight-saving change and "every: 1d" fires
// every 24 hours, at 00:00 UTC plus Offset. ParseDuration reads the durations, which may use
// "d" for 24 hours.
//
// Exclude entries remove slots, read in the spec's zone: a date "2026-12-25" removes the slots
// whose local date it is, a range "2026-12-24..2026-12-26" the slots of each of its dates
// (both ends included), and a cron expression the slots whose local wall-clock time it matches,
// to the minute for five-field expressions and macros ("* 0-6 * * *" removes the slots from
// 00:00 to 06:59, "* * * * 0,6" those of weekends) and to the second for six-field ones.
//
// An exclusion that matches every time ("* * * * *", "* * * * 0-6") is refused: it would leave
// no slot.
//
// Next looks at most 30 years ahead of its argument, and steps over at most 100,000 runs of
// excluded time (an excluded date or range is one run, as is each excluded second, minute,
// hour or day, whichever is the finest an exclusion's expression restricts; runs that follow
// one another count one each): a calendar whose next slot is further away than that, such as
// one whose every slot is excluded by exclusions that each leave some time free, has none. The
// bounds keep a coordinator from searching for ever, and are the same on every coordinator;
// the longest such search takes some tens of milliseconds. Between gives the slots Next gives
// when called again and again.
//
// Jitter delays each slot's run by a duration in [0, Jitter) chosen by the slot and a key (the
// schedule's), so that schedules on the same slot do not all start at once and every
// coordinator delays a given slot by the same amount.
package schedule

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	// Every IANA zone is known whatever the machine has installed, so coordinators on different
	// machines accept the same specs and compute the same slots.
	_ "time/tzdata"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/robfig/cron/v3"
)

const (
	// searchHorizon bounds how far ahead Next looks for a slot: 30 years of 365.25 days.
	searchHorizon = 30 * 8766 * time.Hour
	// maxExcludedSteps bounds the runs of excluded time one Next steps over, so that a calendar
	// excluding almost everything at a fine grain cannot keep a coordinator busy.
	maxExcludedSteps = 100_000
)

// Calendar is a compiled ScheduleSpec. It is immutable and safe for concurrent use.
type Calendar struct {
	loc   *time.Location
	crons []*cron.SpecSchedule
	// every is the interval, zero for none; anchor is the Unix epoch plus the offset.
	every  time.Duration
	anchor time.Time
	// start and end bound the slots; zero means unbounded.
	start, end time.Time
	jitter     time.Duration
	dates      []dateRange
	excluded   []cronExclusion
}

// Compile checks spec and compiles it. Every problem found is reported, each as a *SpecError
// naming its field: one problem is returned as a *SpecError, several as a *SpecErrors (which
// errors.As also unwraps to its first *SpecError).
func Compile(spec protocol.ScheduleSpec) (*Calendar, error) {
	var errs SpecErrors
	bad := func(field, format string, args ...any) {
		errs = append(errs, &SpecError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	c := &Calendar{loc: time.UTC}

	if len(spec.Cron) == 0 && spec.Every == "" {
		bad("cron", "a schedule needs cron expressions or every (an interval), and has neither")
	}
	for i, expr := range spec.Cron {
		s, _, err := parseCron(expr)
		switch {
		case err != nil:
			bad(fmt.Sprintf("cron[%d]", i), "%v", err)
		case !fires(s):
			bad(fmt.Sprintf("cron[%d]", i), "%q never fires (no month has such a day)", expr)
		default:
			c.crons = append(c.crons, s)
		}
	}

	if spec.Every != "" {
		every, err := ParseDuration(spec.Every)
		switch {
		case err != nil:
			bad("every", "%v", err)
		case every < time.Second:
			bad("every", "%s is shorter than the shortest interval, 1s", spec.Every)
		default:
			c.every = every
		}
	}
	if spec.Offset != "" {
		offset, err := ParseDuration(spec.Offset)
		switch {
		case err != nil:
			bad("offset", "%v", err)
		case spec.Every == "":
			bad("offset", "an offset shifts every's slots, and every is not given")
		case offset < 0:
			bad("offset", "%s is negative", spec.Offset)
		case c.every > 0 && offset >= c.every:
			bad("offset", "%s is not shorter than every (%s)", spec.Offset, spec.Every)
		default:
			c.anchor = time.Unix(0, 0).Add(offset)
		}
	}
	if c.anchor.IsZero() {
		c.anchor = time.Unix(0, 0)
	}

	if spec.TimeZone != "" {
		loc, err := loadLocation(spec.TimeZone)
		if err != nil {
			bad("time_zone", "%v", err)
		} else {
			c.loc = loc
		}
	}

	c.start, c.end = spec.Start, spec.End
	if !c.start.IsZero() && !c.end.IsZero() && c.end.Before(c.start) {
		bad("end", "%s is before start (%s)", c.end.Format(time.RFC3339Nano), c.start.Format(time.RFC3339Nano))
	}

	if spec.Jitter != "" {
		jitter, err := ParseDuration(spec.Jitter)
		switch {
		case err != nil:
			bad("jitter", "%v", err)
		case jitter < 0:
			bad("jitter", "%s is negative", spec.Jitter)
		default:
			c.jitter = jitter
		}
	}

	for i, entry := range spec.Exclude {
		if err := c.addExclusion(entry); err != nil {
			bad(fmt.Sprintf("exclude[%d]", i), "%v", err)
		}
	}

	switch len(errs) {
	case 0:
		return c, nil
	case 1:
		return nil, errs[0]
	default:
		return nil, &errs
	}
}

// loadLocation loads an IANA zone. "Local" is refused: it is whatever the machine is set to, so
// two coordinators could disagree on the slots.
func loadLocation(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, fmt.Errorf("%q is the machine's own zone, which coordinators may not share: name an IANA zone such as Europe/Berlin", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA zone such as Europe/Berlin or UTC", name)
	}
	return loc, nil
}

// parser reads five fields, six with seconds first, and the macros.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCron parses one cron expression; seconds reports that it has a seconds field (six
// fields), as opposed to five fields or a macro.
func parseCron(expr string) (s *cron.SpecSchedule, seconds bool, err error) {
	e := strings.TrimSpace(expr)
	upper := strings.ToUpper(e)
	switch {
	case e == "":
		return nil, false, fmt.Errorf("empty cron expression")
	case strings.HasPrefix(upper, "TZ=") || strings.HasPrefix(upper, "CRON_TZ="):
		return nil, false, fmt.Errorf("%q names a time zone in the expression: set time_zone instead", expr)
	case strings.HasPrefix(e, "@every"):
		return nil, false, fmt.Errorf("%q is an interval: set every (and offset) instead", expr)
	}
	parsed, err := parser.Parse(e)
	if err != nil {
		return nil, false, fmt.Errorf("%q: %v", expr, err)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, false, fmt.Errorf("%q is not a calendar expression", expr)
	}
	// The walk feeds the schedule wall-clock readings carried by UTC times: it must read them
	// as they are, in no zone of its own.
	own := *spec
	own.Location = time.UTC
	return &own, !strings.HasPrefix(e, "@") && len(strings.Fields(e)) == 6, nil
}

// fires reports whether s matches any time at all: every expression that does matches one in
// the eight years from 2000, since month, day and weekday combinations repeat within them
// (February 29th included: 2000 is a leap year).
func fires(s *cron.SpecSchedule) bool {
	from := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
	n, ok := wallNext(s, from, time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC))
	return ok && !n.IsZero()
}

// Location is the calendar's zone: the one its cron expressions and exclusions are read in.
func (c *Calendar) Location() *time.Location { return c.loc }

// Next returns the first slot strictly after t, and false when the calendar has none: past End,
// or none within the search bounds the package doc gives.
func (c *Calendar) Next(t time.Time) (time.Time, bool) {
	return c.next(t, time.Time{}, false, newZone(c.loc))
}

// Between returns the slots s with from < s <= to, in order, at most limit of them (limit <= 0:
// no limit), and whether more were left out. They are the slots Next gives when called again
// and again from from.
func (c *Calendar) Between(from, to time.Time, limit int) ([]time.Time, bool) {
	var out []time.Time
	t := from
	z := newZone(c.loc)
	for {
		s, ok := c.next(t, to, true, z)
		if !ok {
			return out, false
		}
		if limit > 0 && len(out) == limit {
			return out, true
		}
		out = append(out, s)
		t = s
	}
}

// next is Next, bounded by to when bounded, looking periods up in z.
func (c *Calendar) next(t, to time.Time, bounded bool, z *zone) (time.Time, bool) {
	if !c.end.IsZero() && !t.Before(c.end) {
		return time.Time{}, false
	}
	if !c.start.IsZero() && t.Before(c.start) {
		t = c.start.Add(-time.Nanosecond)
	}
	limit := t.Add(searchHorizon)
	if !c.end.IsZero() && c.end.Before(limit) {
		limit = c.end
	}
	if bounded && to.Before(limit) {
		limit = to
	}
	for budget := maxExcludedSteps; budget > 0; {
		s, ok := c.candidate(t, limit, z)
		if !ok || s.After(limit) {
			return time.Time{}, false
		}
		until, runs, excluded := c.exclusion(s, limit, z, budget)
		if !excluded {
			return s.UTC(), true
		}
		// Every slot in [s, until) is excluded.
		t = until.Add(-time.Nanosecond)
		budget -= runs
	}
	return time.Time{}, false
}

// candidate is the first slot of the crons and the interval strictly after t, exclusions aside;
// false when there is none up to limit.
func (c *Calendar) candidate(t, limit time.Time, z *zone) (time.Time, bool) {
	var best time.Time
	found := false
	if c.every > 0 {
		best, found = c.everyNext(t), true
	}
	for _, s := range c.crons {
		bound := limit
		if found {
			bound = best
		}
		if n, ok := cronNext(s, t, bound, z); ok && (!found || n.Before(best)) {
			best, found = n, true
		}
	}
	return best, found
}

// FireTime is when slot's run starts: slot plus a delay in [0, jitter). The delay is the first
// eight bytes of sha256(key ‖ slot.UnixNano() as 8 big-endian bytes), read as a big-endian
// unsigned number, modulo the jitter in nanoseconds: every coordinator delays a slot of a
// schedule by the same amount, and different slots and schedules spread over the jitter.
func (c *Calendar) FireTime(key string, slot time.Time) time.Time {
	if c.jitter <= 0 {
		return slot.UTC()
	}
	h := sha256.New()
	h.Write([]byte(key))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(slot.UnixNano())))
	sum := h.Sum(nil)
	delay := time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(c.jitter))
	return slot.Add(delay).UTC()
}
