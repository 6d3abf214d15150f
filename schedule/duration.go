package schedule

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ParseDuration parses a Go duration ("90m", "1h30m", "500ms") that may also use the unit "d" for
// 24 hours ("1d", "1d12h", "1.5d"). A day is always 24 hours here: intervals are absolute time,
// not calendar days, whatever the time zone does.
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %w", s, err)
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, error) {
	rest := s
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "0" {
		return 0, nil
	}
	if rest == "" {
		return 0, errors.New("want a number and a unit, such as 90m, 2h or 1d")
	}
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		num := rest[:i]
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		unit := rest[i:j]
		rest = rest[j:]
		if num == "" || num == "." {
			return 0, errors.New("want a number before each unit")
		}
		if strings.Count(num, ".") > 1 {
			return 0, fmt.Errorf("%s is not a number", num)
		}
		var part time.Duration
		switch unit {
		case "d":
			h, err := time.ParseDuration(num + "h")
			if err != nil || h > math.MaxInt64/24 {
				return 0, errors.New("too long")
			}
			part = h * 24
		case "h", "m", "s", "ms", "us", "µs", "μs", "ns":
			var err error
			if part, err = time.ParseDuration(num + unit); err != nil {
				return 0, errors.New("too long")
			}
		case "":
			return 0, fmt.Errorf("%s has no unit (d, h, m, s, ms, us or ns)", num)
		default:
			return 0, fmt.Errorf("unknown unit %q (want d, h, m, s, ms, us or ns)", unit)
		}
		if total > math.MaxInt64-part {
			return 0, errors.New("too long")
		}
		total += part
	}
	if neg {
		total = -total
	}
	return total, nil
}
