package schedule

import (
	"slices"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// boundZones have daylight saving after their last listed transition (about 2037), where Go
// computes periods from the zone's rule string: north, south, and Lord Howe's half hour.
var boundZones = []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney"}

// TestPeriodsAfterLastTransition: every period holds its instant, has its offset, and ends
// where the offset really changes, also in the last day of leap years after 2037, where
// ZoneBounds gives an end before the instant (golang/go#81583).
func TestPeriodsAfterLastTransition(t *testing.T) {
	for _, name := range boundZones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		offset := func(i time.Time) time.Duration {
			_, off := i.In(loc).Zone()
			return time.Duration(off) * time.Second
		}
		changes := 0
		for i := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC); i.Year() < 2046; i = i.Add(5 * time.Hour) {
			p := periodAt(i, loc)
			if !p.contains(i) || p.off != offset(i) {
				t.Fatalf("%s: period of %s is [%s, %s) at %s", name, i, p.start, p.end, p.off)
			}
			if p.end.IsZero() || p.start.IsZero() {
				t.Fatalf("%s: period of %s is unbounded", name, i)
			}
			if offset(p.end) == p.off || offset(p.start.Add(-time.Second)) == p.off {
				t.Fatalf("%s: period of %s, [%s, %s), is not where the offset changes", name, i, p.start.UTC(), p.end.UTC())
			}
			changes++
		}
		if changes == 0 {
			t.Fatalf("%s: no periods checked", name)
		}
	}
}

// TestNextOverLeapYearEnds: slots on and after the last day of leap years past the zone table,
// where the search once walked the same period for ever.
func TestNextOverLeapYearEnds(t *testing.T) {
	for _, tc := range []slotCase{
		{"Berlin 2040", zoned("Europe/Berlin", "0 3 * * *"), "2040-12-30T00:00:00Z", "2041-01-02T00:00:00Z",
			[]string{"2040-12-30T02:00:00Z", "2040-12-31T02:00:00Z", "2041-01-01T02:00:00Z"}},
		{"New York 2044", zoned("America/New_York", "30 23 * * *"), "2044-12-30T12:00:00Z", "2045-01-01T12:00:00Z",
			[]string{"2044-12-31T04:30:00Z", "2045-01-01T04:30:00Z"}},
		{"Lord Howe 2048", zoned("Australia/Lord_Howe", "0 12 * * *"), "2048-12-30T00:00:00Z", "2049-01-01T12:00:00Z",
			[]string{"2048-12-30T01:00:00Z", "2048-12-31T01:00:00Z", "2049-01-01T01:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkSlots(t, tc) })
	}
}

// excludedEverywhere are calendars whose every slot is excluded, by exclusions that each leave
// some time free, at every grain and in zones with and without daylight saving.
func excludedEverywhere() []protocol.ScheduleSpec {
	var specs []protocol.ScheduleSpec
	for _, tz := range append([]string{"UTC"}, boundZones...) {
		specs = append(specs,
			protocol.ScheduleSpec{Cron: []string{"0 3 * * *"}, TimeZone: tz, Exclude: []string{"* * * * 1-6", "* * * * 0"}},
			protocol.ScheduleSpec{Cron: []string{"* * * * * *"}, TimeZone: tz, Exclude: []string{"* * 1-15 * *", "* * 16-31 * *"}},
			protocol.ScheduleSpec{Cron: []string{"*/15 * * * *"}, TimeZone: tz, Exclude: []string{"* 0-22 * * *", "* 23 * * *"}},
			protocol.ScheduleSpec{Cron: []string{"* * * * * *"}, TimeZone: tz, Exclude: []string{"* 0-11 * * *", "* 12-23 * * *"}},
			protocol.ScheduleSpec{Cron: []string{"* * * * * *"}, TimeZone: tz, Exclude: []string{"*/2 * * * * *", "1-59/2 * * * * *"}},
			protocol.ScheduleSpec{Every: "1s", TimeZone: tz, Exclude: []string{"*/2 * * * * *", "1-59/2 * * * * *"}},
			protocol.ScheduleSpec{Cron: []string{"* * * * *", "0 3 * * *"}, TimeZone: tz, Exclude: []string{"*/2 * * * *", "1-59/2 * * * *"}},
		)
	}
	return specs
}

// maxLookups bounds the zone periods one search of 30 years looks up: two periods a year, and
// a few more around each change of the clock.
const maxLookups = 4 * 31

// TestFullyExcludedIsBounded: a calendar whose every slot is excluded has no next slot, Between
// agrees, and the search looks up a bounded number of zone periods, not one or more a slot.
func TestFullyExcludedIsBounded(t *testing.T) {
	from := at(t, "2026-12-02T19:00:00Z")
	for _, spec := range excludedEverywhere() {
		c := mustCompile(t, spec)
		z := newZone(c.loc)
		if s, ok := c.next(from, time.Time{}, false, z); ok {
			t.Errorf("%+v: Next = %s, want none", spec, s)
		}
		if z.lookups > maxLookups {
			t.Errorf("%+v: Next looked up %d zone periods, want at most %d", spec, z.lookups, maxLookups)
		}
		if got, more := c.Between(from, from.Add(searchHorizon), 0); len(got) != 0 || more {
			t.Errorf("%+v: Between = %v (more %v), want none", spec, got, more)
		}
	}
}

// TestExcludedRunsMerged: runs of excluded time merged in one step give the slots that
// stepping over them one by one gives: the free odd seconds from noon on the day Berlin springs
// forward, after 21 hours of seconds excluded by turns, even ones by one exclusion and odd ones
// by the others.
func TestExcludedRunsMerged(t *testing.T) {
	spec := protocol.ScheduleSpec{Every: "1s", TimeZone: "Europe/Berlin", Exclude: []string{"*/2 * * * * *", "1-59/2 * * 27 3 *", "1-59/2 * 0-11 28 3 *"}}
	c := mustCompile(t, spec)
	from := at(t, "2027-03-27T12:00:00Z")
	got, _ := c.Between(from, from.Add(48*time.Hour), 3)
	want := []string{"2027-03-28T10:00:01Z", "2027-03-28T10:00:03Z", "2027-03-28T10:00:05Z"}
	if g := format(t, got); !slices.Equal(g, want) {
		t.Errorf("Between: got %q, want %q", g, want)
	}
	if g := format(t, chain(t, c, from, at(t, want[2]))); !slices.Equal(g, want) {
		t.Errorf("chained Next: got %q, want %q", g, want)
	}
}

// BenchmarkNextFullyExcluded is the worst Next there is: no slot at all, found by going through
// the whole search bound, for each calendar of excludedEverywhere.
func BenchmarkNextFullyExcluded(b *testing.B) {
	from := time.Date(2026, 12, 2, 19, 0, 0, 0, time.UTC)
	for _, spec := range excludedEverywhere() {
		c, err := Compile(spec)
		if err != nil {
			b.Fatal(err)
		}
		name := spec.TimeZone + "/" + slices.Concat(spec.Cron, []string{spec.Every})[0] + "-x-" + spec.Exclude[0]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := c.Next(from); ok {
					b.Fatal("a slot")
				}
			}
		})
	}
}
