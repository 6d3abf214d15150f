package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// dateRange is an excluded range of local dates, both ends included, as yyyymmdd numbers; end is
// the reading at which the day after it begins.
type dateRange struct {
	from, to int
	end      time.Time
}

// cronExclusion excludes the slots whose wall-clock reading s matches; seconds says s has a
// seconds field, which is then matched too.
type cronExclusion struct {
	s       *cron.SpecSchedule
	seconds bool
}

// dateLayout is how exclusions write dates.
const dateLayout = "2006-01-02"

// addExclusion parses one exclude entry into c.
func (c *Calendar) addExclusion(entry string) error {
	e := strings.TrimSpace(entry)
	if e == "" {
		return fmt.Errorf("empty exclusion: want a date (2026-12-25), a range of dates (2026-12-24..2026-12-26) or a cron expression")
	}
	if from, to, isRange := strings.Cut(e, ".."); isRange || isDate(e) {
		if !isRange {
			to = from
		}
		f, err := time.Parse(dateLayout, strings.TrimSpace(from))
		if err != nil {
			return fmt.Errorf("%q is not a date such as 2026-12-25", strings.TrimSpace(from))
		}
		t, err := time.Parse(dateLayout, strings.TrimSpace(to))
		if err != nil {
			return fmt.Errorf("%q is not a date such as 2026-12-26", strings.TrimSpace(to))
		}
		if t.Before(f) {
			return fmt.Errorf("the range %q ends before it begins", entry)
		}
		c.dates = append(c.dates, dateRange{from: yyyymmdd(f), to: yyyymmdd(t), end: t.AddDate(0, 0, 1)})
		return nil
	}
	s, seconds, err := parseCron(e)
	if err != nil {
		return fmt.Errorf("neither a date (2026-12-25), a range of dates (2026-12-24..2026-12-26) nor a cron expression: %v", err)
	}
	if !fires(s) {
		return fmt.Errorf("%q never matches, so excludes nothing", entry)
	}
	x := cronExclusion{s: s, seconds: seconds}
	if x.matchesAll() {
		return fmt.Errorf("%q matches every time, so would exclude every slot", entry)
	}
	c.excluded = append(c.excluded, x)
	return nil
}

// isDate reports whether e looks like a date rather than a cron expression: it starts with
// four digits and a dash, which no cron field does.
func isDate(e string) bool {
	if len(e) < 5 || e[4] != '-' {
		return false
	}
	for _, r := range e[:4] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// yyyymmdd is t's date as one number, which orders as dates do.
func yyyymmdd(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// exclusion reports whether slot s is excluded, and if so an instant until which every slot is,
// and how many runs of excluded time that took, at most budget. A run is an excluded day,
// range, second, minute or hour; runs that follow one another on the clock are taken
// together, without looking for slots in each, but never past the end of the zone period s is
// in, since only within one period does the clock run with the instants, nor past limit, where
// the search ends anyway.
func (c *Calendar) exclusion(s, limit time.Time, z *zone, budget int) (until time.Time, runs int, excluded bool) {
	if len(c.dates) == 0 && len(c.excluded) == 0 {
		return time.Time{}, 0, false
	}
	p := z.at(s)
	w := s.UTC().Add(p.off)
	end, ok := c.excludedRun(w)
	if !ok {
		return time.Time{}, 0, false
	}
	stop := limit.UTC().Add(p.off)
	if !p.end.IsZero() && p.end.Before(limit) {
		stop = p.end.UTC().Add(p.off)
	}
	runs = 1
	for runs < budget && end.Before(stop) {
		next, ok := c.excludedRun(end)
		if !ok {
			break
		}
		end, runs = next, runs+1
	}
	until = end.Add(-p.off)
	if !p.end.IsZero() && p.end.Before(until) {
		until = p.end
	}
	return until, runs, true
}

// excludedRun reports whether reading w is excluded, and if so the reading up to which it is
// by the run it is in.
func (c *Calendar) excludedRun(w time.Time) (end time.Time, excluded bool) {
	day := yyyymmdd(w)
	for _, r := range c.dates {
		if r.from <= day && day <= r.to && r.end.After(end) {
			end = r.end
		}
	}
	for _, x := range c.excluded {
		if x.matches(w) {
			if e := x.blockEnd(w); e.After(end) {
				end = e
			}
		}
	}
	return end, !end.IsZero()
}

// matchesAll reports whether x matches every reading, which would exclude every slot.
func (x cronExclusion) matchesAll() bool {
	s := x.s
	if x.seconds && !full(s.Second, 0, 59) {
		return false
	}
	if !full(s.Minute, 0, 59) || !full(s.Hour, 0, 23) || !full(s.Month, 1, 12) {
		return false
	}
	dom, dow := full(s.Dom, 1, 31), full(s.Dow, 0, 6)
	if s.Dom&star != 0 || s.Dow&star != 0 {
		return dom && dow
	}
	return dom || dow
}

// has reports whether bit v is set in bits.
func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

// full reports whether bits has every value from lo to hi.
func full(bits uint64, lo, hi int) bool {
	for v := lo; v <= hi; v++ {
		if !has(bits, v) {
			return false
		}
	}
	return true
}

// star is the bit robfig/cron sets for a "*" or "?" field.
const star = 1 << 63

// matches reports whether reading w matches x, to the minute or, with a seconds field, to the
// second. The day rule is robfig/cron's (its dayMatches, which it does not export): when either
// day field is "*" both must match, otherwise either.
func (x cronExclusion) matches(w time.Time) bool {
	s := x.s
	if x.seconds && !has(s.Second, w.Second()) {
		return false
	}
	if !has(s.Minute, w.Minute()) || !has(s.Hour, w.Hour()) || !has(s.Month, int(w.Month())) {
		return false
	}
	dom, dow := has(s.Dom, w.Day()), has(s.Dow, int(w.Weekday()))
	if s.Dom&star != 0 || s.Dow&star != 0 {
		return dom && dow
	}
	return dom || dow
}

// blockEnd is the end of the run of readings around w that x matches because its finer fields
// match everything: the end of w's second, minute, hour or day.
func (x cronExclusion) blockEnd(w time.Time) time.Time {
	s := x.s
	switch {
	case x.seconds && !full(s.Second, 0, 59):
		return w.Truncate(time.Second).Add(time.Second)
	case !full(s.Minute, 0, 59):
		return w.Truncate(time.Minute).Add(time.Minute)
	case !full(s.Hour, 0, 23):
		return w.Truncate(time.Hour).Add(time.Hour)
	default:
		y, m, d := w.Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	}
}
