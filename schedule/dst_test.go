package schedule

import (
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

func zoned(tz string, cron ...string) protocol.ScheduleSpec {
	return protocol.ScheduleSpec{Cron: cron, TimeZone: tz}
}

// TestDaylightSaving: cron expressions read on a wall clock that skips and repeats times. Each
// expected instant is worked out by hand from the zone's rules (Europe/Berlin: 2026-03-29 02:00
// CET → 03:00 CEST, 2026-10-25 03:00 CEST → 02:00 CET; America/New_York: 2026-03-08 02:00 EST →
// 03:00 EDT, 2026-11-01 02:00 EDT → 01:00 EST; Australia/Lord_Howe, half an hour: 2026-04-05
// 02:00 +11 → 01:30 +10:30, 2026-10-04 02:00 +10:30 → 02:30 +11; America/Santiago at midnight:
// 2026-04-05 00:00 -03 → 2026-04-04 23:00 -04, 2026-09-06 00:00 -04 → 01:00 -03).
func TestDaylightSaving(t *testing.T) {
	const (
		berlin   = "Europe/Berlin"
		newYork  = "America/New_York"
		lordHowe = "Australia/Lord_Howe"
		santiago = "America/Santiago"
	)
	for _, tc := range []slotCase{
		// A daily time the clock skips fires once, when the gap ends.
		{"berlin daily in the gap", zoned(berlin, "30 2 * * *"), "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"new york daily in the gap", zoned(newYork, "30 2 * * *"), "2026-03-06T12:00:00Z", "2026-03-09T12:00:00Z",
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"lord howe daily in the half-hour gap", zoned(lordHowe, "15 2 * * *"), "2026-10-02T00:00:00Z", "2026-10-05T00:00:00Z",
			[]string{"2026-10-02T15:45:00Z", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
		// A daily time the clock shows twice fires once, the first time.
		{"berlin daily in the repeat", zoned(berlin, "30 2 * * *"), "2026-10-23T12:00:00Z", "2026-10-26T12:00:00Z",
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"new york daily in the repeat", zoned(newYork, "30 1 * * *"), "2026-10-30T12:00:00Z", "2026-11-02T12:00:00Z",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"lord howe daily in the half-hour repeat", zoned(lordHowe, "45 1 * * *"), "2026-04-03T00:00:00Z", "2026-04-06T00:00:00Z",
			[]string{"2026-04-03T14:45:00Z", "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}},
		// Hourly across both transitions.
		{"berlin hourly spring", zoned(berlin, "30 * * * *"), "2026-03-28T23:00:00Z", "2026-03-29T02:45:00Z",
			[]string{"2026-03-28T23:30:00Z", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z"}},
		{"berlin hourly fall", zoned(berlin, "30 * * * *"), "2026-10-24T22:00:00Z", "2026-10-25T03:00:00Z",
			[]string{"2026-10-24T22:30:00Z", "2026-10-24T23:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z"}},
		{"new york hourly spring", zoned(newYork, "30 * * * *"), "2026-03-08T05:00:00Z", "2026-03-08T08:45:00Z",
			[]string{"2026-03-08T05:30:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"}},
		{"new york hourly fall", zoned(newYork, "30 * * * *"), "2026-11-01T04:00:00Z", "2026-11-01T08:45:00Z",
			[]string{"2026-11-01T04:30:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:30:00Z", "2026-11-01T08:30:00Z"}},
		{"lord howe hourly fall", zoned(lordHowe, "30 * * * *"), "2026-04-04T13:00:00Z", "2026-04-04T17:00:00Z",
			[]string{"2026-04-04T13:30:00Z", "2026-04-04T14:30:00Z", "2026-04-04T16:00:00Z", "2026-04-04T17:00:00Z"}},
		{"lord howe hourly spring", zoned(lordHowe, "30 * * * *"), "2026-10-03T13:30:00Z", "2026-10-03T17:00:00Z",
			[]string{"2026-10-03T14:00:00Z", "2026-10-03T15:00:00Z", "2026-10-03T15:30:00Z", "2026-10-03T16:30:00Z"}},
		// Every quarter hour: the skipped quarters and the real one at the gap's end are one slot.
		{"berlin quarters spring", zoned(berlin, "*/15 * * * *"), "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z",
			[]string{"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z", "2026-03-29T01:30:00Z"}},
		{"berlin quarters fall", zoned(berlin, "*/15 * * * *"), "2026-10-25T00:00:00Z", "2026-10-25T02:15:00Z",
			[]string{"2026-10-25T00:15:00Z", "2026-10-25T00:30:00Z", "2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z"}},
		{"new york quarters spring", zoned(newYork, "*/15 * * * *"), "2026-03-08T06:30:00Z", "2026-03-08T07:15:00Z",
			[]string{"2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"}},
		{"new york quarters fall", zoned(newYork, "*/15 * * * *"), "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z",
			[]string{"2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z"}},
		{"lord howe quarters spring", zoned(lordHowe, "*/15 * * * *"), "2026-10-03T15:00:00Z", "2026-10-03T16:00:00Z",
			[]string{"2026-10-03T15:15:00Z", "2026-10-03T15:30:00Z", "2026-10-03T15:45:00Z", "2026-10-03T16:00:00Z"}},
		{"lord howe quarters fall", zoned(lordHowe, "*/15 * * * *"), "2026-04-04T14:30:00Z", "2026-04-04T15:45:00Z",
			[]string{"2026-04-04T14:45:00Z", "2026-04-04T15:30:00Z", "2026-04-04T15:45:00Z"}},
		// Seconds fields.
		{"berlin seconds all in the gap", zoned(berlin, "15 * 2 * * *"), "2026-03-28T12:00:00Z", "2026-03-29T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z"}},
		{"berlin seconds in the repeat", zoned(berlin, "0/20 59 2 * * *"), "2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z",
			[]string{"2026-10-25T00:59:00Z", "2026-10-25T00:59:20Z", "2026-10-25T00:59:40Z"}},
		{"new york seconds in the gap", zoned(newYork, "30 30 2 * * *"), "2026-03-07T12:00:00Z", "2026-03-08T12:00:00Z",
			[]string{"2026-03-08T07:00:00Z"}},
		// Macros, read in the zone.
		{"berlin @daily", zoned(berlin, "@daily"), "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"}},
		{"berlin @midnight", zoned(berlin, "@midnight"), "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z",
			[]string{"2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"}},
		{"berlin @hourly spring", zoned(berlin, "@hourly"), "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
		{"berlin @weekly", zoned(berlin, "@weekly"), "2026-03-20T00:00:00Z", "2026-04-06T00:00:00Z",
			[]string{"2026-03-21T23:00:00Z", "2026-03-28T23:00:00Z", "2026-04-04T22:00:00Z"}},
		{"berlin @monthly", zoned(berlin, "@monthly"), "2026-03-15T00:00:00Z", "2026-05-15T00:00:00Z",
			[]string{"2026-03-31T22:00:00Z", "2026-04-30T22:00:00Z"}},
		{"berlin @yearly", zoned(berlin, "@yearly"), "2026-06-01T00:00:00Z", "2028-06-01T00:00:00Z",
			[]string{"2026-12-31T23:00:00Z", "2027-12-31T23:00:00Z"}},
		{"new york @annually", zoned(newYork, "@annually"), "2026-06-01T00:00:00Z", "2027-06-01T00:00:00Z",
			[]string{"2027-01-01T05:00:00Z"}},
		{"new york @daily fall", zoned(newYork, "@daily"), "2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z",
			[]string{"2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"}},
		{"lord howe @daily spring", zoned(lordHowe, "@daily"), "2026-10-03T00:00:00Z", "2026-10-04T23:00:00Z",
			[]string{"2026-10-03T13:30:00Z", "2026-10-04T13:00:00Z"}},
		// Midnight itself skipped, and midnight repeated as 23:00 of the day before.
		{"santiago @daily midnight skipped", zoned(santiago, "@daily"), "2026-09-04T12:00:00Z", "2026-09-07T12:00:00Z",
			[]string{"2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"}},
		{"santiago @daily falling back at midnight", zoned(santiago, "@daily"), "2026-04-03T12:00:00Z", "2026-04-06T12:00:00Z",
			[]string{"2026-04-04T03:00:00Z", "2026-04-05T04:00:00Z", "2026-04-06T04:00:00Z"}},
		{"santiago 23:30 twice", zoned(santiago, "30 23 * * *"), "2026-04-04T12:00:00Z", "2026-04-05T12:00:00Z",
			[]string{"2026-04-05T02:30:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkSlots(t, tc) })
	}
}
