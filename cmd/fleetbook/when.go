package main

import (
	"fmt"
	"time"

	"github.com/fleetbook/fleetbook/schedule"
)

// parseAge parses a duration as Go does (90m, 36h), also in days (7d, 1d12h): the schedules'
// duration syntax, so every flag of fleetbook reads durations alike.
func parseAge(s string) (time.Duration, error) {
	d, err := schedule.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (such as 90m, 36h or 7d)", s)
	}
	return d, nil
}

// ageValue is a pflag value for a duration that may be given in days.
type ageValue struct{ d *time.Duration }

func (a ageValue) String() string {
	if a.d == nil || *a.d == 0 {
		return "0"
	}
	return a.d.String()
}

func (a ageValue) Set(s string) error {
	d, err := parseAge(s)
	if err != nil {
		return err
	}
	*a.d = d
	return nil
}

func (a ageValue) Type() string { return "duration" }

// parseWhen parses a point in time: RFC 3339 (2026-12-01T10:00:00Z), a date (2026-12-01, local
// midnight), or an age before now (36h, 7d).
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	d, err := parseAge(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a time (2026-12-01T10:00:00Z, 2026-12-01) nor an age (36h, 7d)", s)
	}
	return now.Add(-d), nil
}
