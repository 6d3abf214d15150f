package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// dayPattern is a leading number of days in a duration, such as the 7d of "7d" or "1d12h".
var dayPattern = regexp.MustCompile(`^(\d+)d`)

// parseAge parses a duration as Go does (90m, 36h), also in days (7d, 1d12h).
func parseAge(s string) (time.Duration, error) {
	var days time.Duration
	if m := dayPattern.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("%q: too many days", s)
		}
		days, s = time.Duration(n)*24*time.Hour, strings.TrimPrefix(s, m[0])
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (such as 90m, 36h or 7d)", s)
	}
	return days + d, nil
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
