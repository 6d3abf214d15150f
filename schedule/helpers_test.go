package schedule

import (
	"slices"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// at parses an RFC 3339 time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad time %q in the test: %v", s, err)
	}
	return v
}

func mustCompile(t *testing.T, spec protocol.ScheduleSpec) *Calendar {
	t.Helper()
	c, err := Compile(spec)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", spec, err)
	}
	return c
}

// format writes slots as RFC 3339 in UTC, failing on a slot that is not in UTC.
func format(t *testing.T, slots []time.Time) []string {
	t.Helper()
	out := make([]string, len(slots))
	for i, s := range slots {
		if s.Location() != time.UTC {
			t.Errorf("slot %s is in %s, not UTC", s, s.Location())
		}
		out[i] = s.Format(time.RFC3339Nano)
	}
	return out
}

// chain is the slots after from up to to that Next gives when called again and again.
func chain(t *testing.T, c *Calendar, from, to time.Time) []time.Time {
	t.Helper()
	var out []time.Time
	prev := from
	for {
		s, ok := c.Next(prev)
		if !ok || s.After(to) {
			return out
		}
		if !s.After(prev) {
			t.Fatalf("Next(%s) = %s, not after it", prev.Format(time.RFC3339Nano), s.Format(time.RFC3339Nano))
		}
		out = append(out, s)
		prev = s
	}
}

// slotCase is a spec and the slots it must have in (from, to].
type slotCase struct {
	name     string
	spec     protocol.ScheduleSpec
	from, to string
	want     []string
}

// checkSlots checks Between and chained Next against the case's slots.
func checkSlots(t *testing.T, tc slotCase) {
	t.Helper()
	c := mustCompile(t, tc.spec)
	from, to := at(t, tc.from), at(t, tc.to)
	got, more := c.Between(from, to, 0)
	if more {
		t.Errorf("Between without a limit says more were left out")
	}
	if g := format(t, got); !slices.Equal(g, tc.want) {
		t.Errorf("Between(%s, %s):\n got %q\nwant %q", tc.from, tc.to, g, tc.want)
	}
	if g := format(t, chain(t, c, from, to)); !slices.Equal(g, tc.want) {
		t.Errorf("chained Next from %s:\n got %q\nwant %q", tc.from, g, tc.want)
	}
}
