package schedule

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/robfig/cron/v3"
)

func TestEveryAndBounds(t *testing.T) {
	hour := func(h int) string { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC).Format(time.RFC3339) }
	for _, tc := range []slotCase{
		{"hourly with an offset, whatever the zone", protocol.ScheduleSpec{Every: "1h", Offset: "15m", TimeZone: "Europe/Berlin"},
			"2026-03-29T00:00:00Z", "2026-03-29T03:00:00Z",
			[]string{"2026-03-29T00:15:00Z", "2026-03-29T01:15:00Z", "2026-03-29T02:15:00Z"}},
		{"a day is 24 hours across a transition", protocol.ScheduleSpec{Every: "1d", Offset: "6h", TimeZone: "Europe/Berlin"},
			"2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-29T06:00:00Z", "2026-03-30T06:00:00Z"}},
		{"seven minutes and 13 seconds", protocol.ScheduleSpec{Every: "7m", Offset: "13s"},
			"2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z",
			[]string{"2026-01-01T00:00:13Z", "2026-01-01T00:07:13Z"}},
		{"eleven hours from the epoch", protocol.ScheduleSpec{Every: "11h"},
			"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
			[]string{"2026-01-01T01:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T23:00:00Z"}},
		{"before the epoch", protocol.ScheduleSpec{Every: "1h", Offset: "30m"},
			"1969-12-31T23:00:00Z", "1970-01-01T01:00:00Z",
			[]string{"1969-12-31T23:30:00Z", "1970-01-01T00:30:00Z"}},
		{"centuries away", protocol.ScheduleSpec{Every: "1h", Offset: "30m"},
			"2500-01-01T00:00:00Z", "2500-01-01T01:00:00Z", []string{"2500-01-01T00:30:00Z"}},
		{"start and end included", protocol.ScheduleSpec{Every: "1h", Start: at(t, hour(3)), End: at(t, hour(6))},
			"2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z", []string{hour(3), hour(4), hour(5), hour(6)}},
		{"start between slots", protocol.ScheduleSpec{Every: "1h", Start: at(t, "2026-01-01T03:10:00Z"), End: at(t, hour(5))},
			"2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z", []string{hour(4), hour(5)}},
		{"cron within bounds", protocol.ScheduleSpec{Cron: []string{"0 */2 * * *"}, Start: at(t, hour(3)), End: at(t, hour(8))},
			"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", []string{hour(4), hour(6), hour(8)}},
		{"union without duplicates", protocol.ScheduleSpec{Cron: []string{"0 * * * *", "*/30 * * * *", "0 0 * * *"}, Every: "1h", Offset: "15m"},
			"2025-12-31T23:00:00Z", "2026-01-01T01:00:00Z",
			[]string{"2025-12-31T23:15:00Z", "2025-12-31T23:30:00Z", "2026-01-01T00:00:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z"}},
		{"the same slot from cron and every", protocol.ScheduleSpec{Cron: []string{"@hourly"}, Every: "30m"},
			"2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", []string{"2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z"}},
		{"february 29th, eight years apart", protocol.ScheduleSpec{Cron: []string{"0 0 29 2 *"}},
			"2096-03-01T00:00:00Z", "2105-01-01T00:00:00Z", []string{"2104-02-29T00:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkSlots(t, tc) })
	}

	c := mustCompile(t, protocol.ScheduleSpec{Every: "1h", Start: at(t, hour(3)), End: at(t, hour(6))})
	if s, ok := c.Next(time.Time{}); !ok || !s.Equal(at(t, hour(3))) {
		t.Errorf("Next(zero) = %s %v, want the start", s, ok)
	}
	for _, after := range []string{hour(6), "2026-01-01T06:00:00.000000001Z", "2030-01-01T00:00:00Z"} {
		if s, ok := c.Next(at(t, after)); ok {
			t.Errorf("Next(%s) = %s past the end", after, s)
		}
	}
}

func TestExclusions(t *testing.T) {
	berlinHours := func(from, to int) []string {
		var out []string
		for h := from; h <= to; h++ {
			out = append(out, time.Date(2026, 12, 1, h, 0, 0, 0, time.UTC).Format(time.RFC3339))
		}
		return out
	}
	days := func(ds ...int) []string {
		var out []string
		for _, d := range ds {
			out = append(out, time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))
		}
		return out
	}
	berlin := "Europe/Berlin"
	for _, tc := range []slotCase{
		{"a date", protocol.ScheduleSpec{Cron: []string{"0 9 * * *"}, TimeZone: berlin, Exclude: []string{"2026-12-25"}},
			"2026-12-23T12:00:00Z", "2026-12-27T12:00:00Z",
			[]string{"2026-12-24T08:00:00Z", "2026-12-26T08:00:00Z", "2026-12-27T08:00:00Z"}},
		{"a range", protocol.ScheduleSpec{Cron: []string{"0 9 * * *"}, TimeZone: berlin, Exclude: []string{"2026-12-24..2026-12-26"}},
			"2026-12-23T12:00:00Z", "2026-12-27T12:00:00Z", []string{"2026-12-27T08:00:00Z"}},
		{"a date is local", protocol.ScheduleSpec{Every: "1h", TimeZone: berlin, Exclude: []string{"2026-12-25"}},
			"2026-12-24T21:00:00Z", "2026-12-26T00:00:00Z",
			[]string{"2026-12-24T22:00:00Z", "2026-12-25T23:00:00Z", "2026-12-26T00:00:00Z"}},
		{"a date whose day is 23 hours", protocol.ScheduleSpec{Every: "30m", TimeZone: berlin, Exclude: []string{"2026-03-29"}},
			"2026-03-29T21:00:00Z", "2026-03-29T23:00:00Z",
			[]string{"2026-03-29T22:00:00Z", "2026-03-29T22:30:00Z", "2026-03-29T23:00:00Z"}},
		{"a date whose day is 25 hours", protocol.ScheduleSpec{Every: "30m", TimeZone: berlin, Exclude: []string{"2026-10-25"}},
			"2026-10-25T21:30:00Z", "2026-10-25T23:30:00Z", []string{"2026-10-25T23:00:00Z", "2026-10-25T23:30:00Z"}},
		{"a date its clock returns to", protocol.ScheduleSpec{Every: "1h", TimeZone: "America/Santiago", Exclude: []string{"2026-04-04"}},
			"2026-04-05T00:00:00Z", "2026-04-05T06:00:00Z",
			[]string{"2026-04-05T04:00:00Z", "2026-04-05T05:00:00Z", "2026-04-05T06:00:00Z"}},
		{"night hours", protocol.ScheduleSpec{Every: "1h", TimeZone: berlin, Exclude: []string{"* 0-6 * * *"}},
			"2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", berlinHours(6, 22)},
		{"weekends", protocol.ScheduleSpec{Cron: []string{"@daily"}, Exclude: []string{"* * * * 0,6"}},
			"2026-12-01T00:00:00Z", "2026-12-15T00:00:00Z", days(2, 3, 4, 7, 8, 9, 10, 11, 14, 15)},
		{"seconds", protocol.ScheduleSpec{Every: "15s", Exclude: []string{"0-29 * * * * *"}},
			"2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", []string{"2026-01-01T00:00:30Z", "2026-01-01T00:00:45Z"}},
		{"five fields exclude whole minutes", protocol.ScheduleSpec{Every: "15s", Exclude: []string{"0 * * * *"}},
			"2026-01-01T00:59:00Z", "2026-01-01T01:01:30Z",
			[]string{"2026-01-01T00:59:15Z", "2026-01-01T00:59:30Z", "2026-01-01T00:59:45Z", "2026-01-01T01:01:00Z", "2026-01-01T01:01:15Z", "2026-01-01T01:01:30Z"}},
		{"ten excluded years", protocol.ScheduleSpec{Cron: []string{"@daily"}, Exclude: []string{"2026-01-01..2035-12-31"}},
			"2025-12-31T12:00:00Z", "2036-01-02T12:00:00Z", []string{"2036-01-01T00:00:00Z", "2036-01-02T00:00:00Z"}},
		{"everything excluded", protocol.ScheduleSpec{Every: "1m", Exclude: []string{"* 0-11 * * *", "* 12-23 * * *"}},
			"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", nil},
	} {
		t.Run(tc.name, func(t *testing.T) { checkSlots(t, tc) })
	}

	for _, spec := range []protocol.ScheduleSpec{
		{Every: "1s", Exclude: []string{"0-29 * * * * *", "30-59 * * * * *"}},
		{Cron: []string{"* * * * * *"}, Exclude: []string{"* * * * 0-3", "* * * * 4-6"}},
		{Cron: []string{"0 9 * * 1-5"}, Exclude: []string{"* * * * 1-5"}},
	} {
		c := mustCompile(t, spec)
		if s, ok := c.Next(at(t, "2026-01-01T00:00:00Z")); ok {
			t.Errorf("%+v: Next = %s, want none (every slot is excluded)", spec, s)
		}
	}
}

// TestMacroExclusionWindow: an excluded macro removes its whole minute, and the slots around it
// stay (the case above checks only the one before it).
func TestMacroExclusionWindow(t *testing.T) {
	checkSlots(t, slotCase{"@daily excluded", protocol.ScheduleSpec{Every: "30s", Exclude: []string{"@daily"}},
		"2026-01-01T23:59:00Z", "2026-01-02T00:01:30Z",
		[]string{"2026-01-01T23:59:30Z", "2026-01-02T00:01:00Z", "2026-01-02T00:01:30Z"}})
}

// zones are the zones the property tests run in.
var zones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney", "America/Santiago"}

// TestNextProperties: over a year in each zone, every Next is after its argument, Between
// agrees with chained Next, and Next from any instant (inside a repeated hour too) is the first
// slot of the chain after it.
func TestNextProperties(t *testing.T) {
	specs := []protocol.ScheduleSpec{
		{Cron: []string{"*/15 * * * *"}},
		{Cron: []string{"30 2 * * *", "30 1 * * *"}},
		{Cron: []string{"30 * * * *"}, Every: "7h", Offset: "1m"},
		{Cron: []string{"@daily", "0 0 1 * *"}},
		{Cron: []string{"*/20 30 1,2 * * *"}},
		{Cron: []string{"0 9 * * 1-5"}, Exclude: []string{"* * * * 3", "2026-05-01..2026-05-10"}},
		{Every: "1h", Exclude: []string{"* 1-2 * * *"}},
	}
	from, to := at(t, "2026-01-01T00:00:00Z"), at(t, "2027-01-01T00:00:00Z")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, zone := range zones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		// Probes at and around each of the zone's transitions this year.
		var probes []time.Time
		for p := from.In(loc); ; {
			_, end := p.ZoneBounds()
			if end.IsZero() || end.After(to) {
				break
			}
			for _, d := range []time.Duration{-time.Nanosecond, 0, time.Nanosecond, 15 * time.Minute, 30 * time.Minute, 59 * time.Minute, time.Hour, 90 * time.Minute} {
				probes = append(probes, end.Add(d))
			}
			p = end.In(loc)
		}
		for range 2000 {
			probes = append(probes, from.Add(time.Duration(rng.Int64N(int64(to.Sub(from))))))
		}
		for _, spec := range specs {
			spec.TimeZone = zone
			c := mustCompile(t, spec)
			slots := chain(t, c, from, to)
			if len(slots) == 0 {
				t.Fatalf("%+v has no slots in 2026", spec)
			}
			between, more := c.Between(from, to, 0)
			if !slices.Equal(between, slots) || more {
				t.Errorf("%+v: Between gives %d slots (more %v), chained Next %d", spec, len(between), more, len(slots))
			}
			first, more := c.Between(from, to, 5)
			if !slices.Equal(first, slots[:min(5, len(slots))]) || more != (len(slots) > 5) {
				t.Errorf("%+v: Between with limit 5 = %v (more %v)", spec, first, more)
			}
			for _, p := range probes {
				i := sort.Search(len(slots), func(i int) bool { return slots[i].After(p) })
				got, ok := c.Next(p)
				if i == len(slots) {
					if ok && !got.After(to) {
						t.Errorf("%s %v: Next(%s) = %s, after the year's last slot", zone, spec.Cron, p.Format(time.RFC3339Nano), got)
					}
					continue
				}
				if !ok || !got.Equal(slots[i]) {
					t.Errorf("%s %v: Next(%s) = %s %v, want %s", zone, spec.Cron, p.Format(time.RFC3339Nano), got, ok, slots[i])
				}
			}
		}
	}
}

// TestAgainstMinuteByMinute compares five-field expressions, for four days around each of the
// zones' 2026 transitions, with an oracle that walks the instants minute by minute: an instant
// fires when its reading matches and was not shown before, or when it ends a gap in which a
// skipped reading matches. Matching is robfig/cron's own Next on the bare reading.
func TestAgainstMinuteByMinute(t *testing.T) {
	exprs := []string{"*/15 * * * *", "30 2 * * *", "0,30 1-3 * * *", "45 * * * *", "0 0 * * *", "59 23 * * *", "*/7 2 * * *"}
	for _, zone := range zones[1:] {
		loc, _ := time.LoadLocation(zone)
		p := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		for {
			_, end := p.ZoneBounds()
			if end.IsZero() || end.Year() > 2026 {
				break
			}
			p = end.In(loc)
			lo, hi := end.Add(-48*time.Hour), end.Add(48*time.Hour)
			for _, expr := range exprs {
				s, err := cron.ParseStandard(expr)
				if err != nil {
					t.Fatal(err)
				}
				matches := func(r time.Time) bool { return s.Next(r.Add(-time.Second)).Equal(r) }
				reading := func(i time.Time) time.Time {
					l := i.In(loc)
					return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
				}
				var want []string
				seen := map[time.Time]bool{reading(lo): true}
				for i := lo.Add(time.Minute); !i.After(hi); i = i.Add(time.Minute) {
					r, prev := reading(i), reading(i.Add(-time.Minute))
					fires := matches(r) && !seen[r]
					for g := prev.Add(time.Minute); g.Before(r); g = g.Add(time.Minute) {
						fires = fires || matches(g)
					}
					seen[r] = true
					if fires {
						want = append(want, i.UTC().Format(time.RFC3339))
					}
				}
				got, _ := mustCompile(t, protocol.ScheduleSpec{Cron: []string{expr}, TimeZone: zone}).Between(lo, hi, 0)
				if g := format(t, got); !slices.Equal(g, want) {
					t.Errorf("%s %q around %s:\n got %q\nwant %q", zone, expr, end.UTC(), g, want)
				}
			}
		}
	}
}

func TestFireTime(t *testing.T) {
	c := mustCompile(t, protocol.ScheduleSpec{Every: "1m", Jitter: "1h"})
	slots, _ := c.Between(at(t, "2026-01-01T00:00:00Z"), at(t, "2026-01-02T00:00:00Z"), 1000)
	delays := map[time.Duration]bool{}
	var lo, hi time.Duration = time.Hour, 0
	for _, s := range slots {
		f := c.FireTime("schedule-uid", s)
		if !f.Equal(c.FireTime("schedule-uid", s)) {
			t.Fatalf("FireTime of %s differs between calls", s)
		}
		if f.Location() != time.UTC {
			t.Errorf("FireTime %s is not in UTC", f)
		}
		d := f.Sub(s)
		if d < 0 || d >= time.Hour {
			t.Fatalf("FireTime of %s is %s later, outside [0, 1h)", s, d)
		}
		// The documented function, which every coordinator must compute alike.
		sum := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("schedule-uid"), uint64(s.UnixNano())))
		if want := time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(time.Hour)); d != want {
			t.Fatalf("FireTime of %s is %s later, the documented hash says %s", s, d, want)
		}
		delays[d] = true
		lo, hi = min(lo, d), max(hi, d)
	}
	if len(delays) < 990 || lo > 6*time.Minute || hi < 54*time.Minute {
		t.Errorf("1000 slots got %d distinct delays between %s and %s: not spread over the jitter", len(delays), lo, hi)
	}
	s := slots[0]
	if c.FireTime("a", s).Equal(c.FireTime("b", s)) && c.FireTime("c", s).Equal(c.FireTime("d", s)) {
		t.Errorf("different keys get the same delays")
	}
	none := mustCompile(t, protocol.ScheduleSpec{Every: "1m"})
	if f := none.FireTime("k", s); !f.Equal(s) {
		t.Errorf("without jitter FireTime = %s, want the slot %s", f, s)
	}
}

func TestCompileErrors(t *testing.T) {
	start := at(t, "2026-06-01T00:00:00Z")
	for _, tc := range []struct {
		name   string
		spec   protocol.ScheduleSpec
		fields []string
		says   string
	}{
		{"nothing", protocol.ScheduleSpec{TimeZone: "UTC"}, []string{"cron"}, "neither"},
		{"unknown zone", protocol.ScheduleSpec{Every: "1h", TimeZone: "Mars/Olympus"}, []string{"time_zone"}, "unknown time zone"},
		{"local zone", protocol.ScheduleSpec{Every: "1h", TimeZone: "Local"}, []string{"time_zone"}, "IANA"},
		{"short every", protocol.ScheduleSpec{Every: "500ms"}, []string{"every"}, "1s"},
		{"zero every", protocol.ScheduleSpec{Every: "0"}, []string{"every"}, "1s"},
		{"bad every", protocol.ScheduleSpec{Every: "often"}, []string{"every"}, "invalid duration"},
		{"negative offset", protocol.ScheduleSpec{Every: "1h", Offset: "-1m"}, []string{"offset"}, "negative"},
		{"offset as long as every", protocol.ScheduleSpec{Every: "1h", Offset: "60m"}, []string{"offset"}, "shorter"},
		{"offset without every", protocol.ScheduleSpec{Cron: []string{"@daily"}, Offset: "1m"}, []string{"offset"}, "every"},
		{"bad offset", protocol.ScheduleSpec{Every: "1h", Offset: "1x"}, []string{"offset"}, "unit"},
		{"end before start", protocol.ScheduleSpec{Every: "1h", Start: start, End: start.Add(-time.Second)}, []string{"end"}, "before start"},
		{"negative jitter", protocol.ScheduleSpec{Every: "1h", Jitter: "-5m"}, []string{"jitter"}, "negative"},
		{"bad jitter", protocol.ScheduleSpec{Every: "1h", Jitter: "5"}, []string{"jitter"}, "unit"},
		{"never fires", protocol.ScheduleSpec{Cron: []string{"@daily", "0 0 30 2 *"}}, []string{"cron[1]"}, "never fires"},
		{"april 31st", protocol.ScheduleSpec{Cron: []string{"0 0 31 4 *"}}, []string{"cron[0]"}, "never fires"},
		{"TZ prefix", protocol.ScheduleSpec{Cron: []string{"TZ=Europe/Berlin 0 9 * * *"}}, []string{"cron[0]"}, "time_zone"},
		{"CRON_TZ prefix", protocol.ScheduleSpec{Cron: []string{"CRON_TZ=Europe/Berlin 0 9 * * *"}}, []string{"cron[0]"}, "time_zone"},
		{"TZ prefix without expression", protocol.ScheduleSpec{Cron: []string{"TZ=Europe/Berlin"}}, []string{"cron[0]"}, "time_zone"},
		{"@every", protocol.ScheduleSpec{Cron: []string{"@every 5m"}}, []string{"cron[0]"}, "every"},
		{"bad cron", protocol.ScheduleSpec{Cron: []string{"61 * * * *"}}, []string{"cron[0]"}, "above maximum"},
		{"seven fields", protocol.ScheduleSpec{Cron: []string{"0 0 0 1 1 * 2026"}}, []string{"cron[0]"}, "fields"},
		{"unknown macro", protocol.ScheduleSpec{Cron: []string{"@reboot"}}, []string{"cron[0]"}, "unrecognized"},
		{"empty cron", protocol.ScheduleSpec{Cron: []string{" "}}, []string{"cron[0]"}, "empty"},
		{"bad date", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"2026-12-25", "2026-13-01"}}, []string{"exclude[1]"}, "not a date"},
		{"reversed range", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"2026-12-26..2026-12-24"}}, []string{"exclude[0]"}, "ends before"},
		{"bad range end", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"2026-12-24..soon"}}, []string{"exclude[0]"}, "not a date"},
		{"bad exclusion", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"@daily", "@daily", "christmas"}}, []string{"exclude[2]"}, "neither a date"},
		{"exclusion with a zone", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"TZ=UTC * * * * *"}}, []string{"exclude[0]"}, "time_zone"},
		{"exclusion never matching", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"* * 30 2 *"}}, []string{"exclude[0]"}, "never matches"},
		{"empty exclusion", protocol.ScheduleSpec{Every: "1h", Exclude: []string{""}}, []string{"exclude[0]"}, "empty"},
		{"exclusion of everything", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"* 0-6 * * *", "* * * * *"}}, []string{"exclude[1]"}, "every slot"},
		{"exclusion of every second", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"* * * * * *"}}, []string{"exclude[0]"}, "every slot"},
		{"exclusion of every weekday", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"* * * * 0-6"}}, []string{"exclude[0]"}, "every slot"},
		{"exclusion of every day either way", protocol.ScheduleSpec{Every: "1h", Exclude: []string{"* * 1-31 * 1"}}, []string{"exclude[0]"}, "every slot"},
		{"every problem at once", protocol.ScheduleSpec{Cron: []string{"@daily", "bad"}, Every: "1s", Offset: "2s", TimeZone: "Nowhere",
			Start: start, End: start.Add(-time.Hour), Jitter: "-1s", Exclude: []string{"x"}},
			[]string{"cron[1]", "offset", "time_zone", "end", "jitter", "exclude[0]"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Compile(tc.spec)
			if err == nil {
				t.Fatalf("Compile accepted %+v: %v", tc.spec, c)
			}
			var fields []string
			var several *SpecErrors
			var one *SpecError
			switch {
			case errors.As(err, &several):
				for _, se := range *several {
					fields = append(fields, se.Field)
				}
			case errors.As(err, &one):
				fields = []string{one.Field}
			default:
				t.Fatalf("error %v (%T) is no SpecError", err, err)
			}
			if !slices.Equal(fields, tc.fields) {
				t.Errorf("fields %q, want %q (%v)", fields, tc.fields, err)
			}
			if !errors.As(err, &one) || one.Field != tc.fields[0] {
				t.Errorf("errors.As does not find the first SpecError in %v", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f+": ") {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, spec := range []protocol.ScheduleSpec{
		{Cron: []string{"0 0 29 2 *"}},
		{Cron: []string{"0 9 * JAN-MAR mon-fri"}, TimeZone: "America/New_York"},
		{Cron: []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}},
		{Every: "1s", Offset: "999ms"},
		{Every: "1d12h", Offset: "0", Jitter: "0"},
		{Every: "1h", Start: at(t, "2026-01-01T00:00:00Z"), End: at(t, "2026-01-01T00:00:00Z")},
		{Every: "1h", Exclude: []string{"2026-02-28..2026-03-01", "*/5 * * * * *", "@hourly"}},
	} {
		if _, err := Compile(spec); err != nil {
			t.Errorf("Compile(%+v): %v", spec, err)
		}
	}
	c := mustCompile(t, protocol.ScheduleSpec{Every: "1h", TimeZone: "Australia/Lord_Howe"})
	if c.Location().String() != "Australia/Lord_Howe" {
		t.Errorf("Location = %s", c.Location())
	}
	if c := mustCompile(t, protocol.ScheduleSpec{Every: "1h"}); c.Location() != time.UTC {
		t.Errorf("without a zone Location = %s, want UTC", c.Location())
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"1d", 24 * time.Hour}, {"1d12h", 36 * time.Hour}, {"90m", 90 * time.Minute}, {"1.5d", 36 * time.Hour},
		{"2h30m15s", 2*time.Hour + 30*time.Minute + 15*time.Second}, {"500ms", 500 * time.Millisecond},
		{"0", 0}, {"-1d", -24 * time.Hour}, {"+7d", 7 * 24 * time.Hour}, {"1us", time.Microsecond}, {"1µs", time.Microsecond},
		{"3ns", 3}, {"10d1s", 240*time.Hour + time.Second},
	} {
		if got, err := ParseDuration(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "d", "1", "1x", "1 d", "1.2.3h", "-", "1dd", "200000d", "99999999999999999999h", "1h 2m", "h1"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %s, want an error", in, got)
		} else if !strings.Contains(err.Error(), "invalid duration") {
			t.Errorf("ParseDuration(%q): %v", in, err)
		}
	}
}

// TestYearOfMinutes: a year of minute slots comes out whole, computed rather than stepped to.
func TestYearOfMinutes(t *testing.T) {
	from, to := at(t, "2026-01-01T00:00:00Z"), at(t, "2027-01-01T00:00:00Z")
	for _, tc := range []struct {
		spec protocol.ScheduleSpec
		n    int
	}{
		{protocol.ScheduleSpec{Every: "1m", TimeZone: "Europe/Berlin"}, 365 * 24 * 60},
		{protocol.ScheduleSpec{Cron: []string{"* * * * *"}}, 365 * 24 * 60},
		// The 60 minutes Berlin skips in spring fire as one with 03:00; the 60 it repeats in
		// the autumn fire once.
		{protocol.ScheduleSpec{Cron: []string{"* * * * *"}, TimeZone: "Europe/Berlin"}, 365*24*60 - 60},
	} {
		spec := tc.spec
		slots, more := mustCompile(t, spec).Between(from, to, 0)
		if len(slots) != tc.n || more || !slots[0].Equal(from.Add(time.Minute)) || !slots[len(slots)-1].Equal(to) {
			t.Errorf("%+v: %d slots from %s to %s", spec, len(slots), slots[0], slots[len(slots)-1])
		}
	}
}

func BenchmarkBetweenYearOfMinutes(b *testing.B) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, spec := range []protocol.ScheduleSpec{{Every: "1m"}, {Cron: []string{"* * * * *"}, TimeZone: "Europe/Berlin"}} {
		c, err := Compile(spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(spec.Every+strings.Join(spec.Cron, ","), func(b *testing.B) {
			for b.Loop() {
				c.Between(from, from.AddDate(1, 0, 0), 0)
			}
		})
	}
}

// FuzzCompile: no expression makes Compile or Next panic, and a compiled calendar's Next is
// after its argument.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{"*/15 * * * *", "0 0 30 2 *", "TZ=", "CRON_TZ=X", "@every 1s", "1-2/0 * * * *",
		"0 0 29 2 *", "5 4 3 2 1 0", "@weekly", "- - - - -", "2026-12-24..2026-12-26", "9223372036854775807 * * * *"} {
		f.Add(seed, "Europe/Berlin")
	}
	f.Fuzz(func(t *testing.T, expr, zone string) {
		for _, spec := range []protocol.ScheduleSpec{{Cron: []string{expr}, TimeZone: zone}, {Every: "1h", Exclude: []string{expr}}} {
			c, err := Compile(spec)
			if err != nil {
				continue
			}
			from := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)
			if s, ok := c.Next(from); ok && !s.After(from) {
				t.Fatalf("%+v: Next(%s) = %s", spec, from, s)
			}
		}
	})
}
