package schedule

import (
	"math/big"
	"time"

	"github.com/robfig/cron/v3"
)

// Wall-clock readings are carried by UTC times whose fields are the reading: 02:30 on the
// Berlin clock is 02:30 UTC here. robfig/cron's Next walks them without any zone, so it never
// meets a transition; the calendar maps each reading it finds to an instant itself.

// period is a stretch of time in which a zone's offset does not change: [start, end), a zero
// start or end meaning unbounded, and off its offset east of UTC in seconds.
type period struct {
	start, end time.Time
	off        time.Duration
}

// rawPeriod is the period of loc holding instant t as time.ZoneBounds gives it, which is not
// always a period: see periodAt.
func rawPeriod(t time.Time, loc *time.Location) period {
	lt := t.In(loc)
	_, off := lt.Zone()
	start, end := lt.ZoneBounds()
	return period{start: start, end: end, off: time.Duration(off) * time.Second}
}

// maxMerges bounds how many neighbouring stretches of the same offset periodAt joins on each
// side of t's. After a zone's last listed transition ZoneBounds cuts the period at every new
// year, so one or two suffice; fewer than all joins still gives a true, shorter, period.
const maxMerges = 4

// periodAt is the period of loc that holds instant t: the stretch around t in which the offset
// does not change, with its true ends.
//
// ZoneBounds is not trusted as it is. For instants after a zone's last listed transition (about
// 2037 in the embedded database) Go computes the periods from the zone's rule string and cuts
// them at each new year (UTC), and in a leap year it ends the last one 365 days after the year
// began, a day early: for an instant in the last day of such a year it returns an end before
// the instant (golang/go#81583, open as of Go 1.26). Walking periods by their ends, as instant
// does, then never moves on. So an end that is not after t is taken up at the next UTC day,
// and stretches of the same offset are joined, so that an end is a real change of the clock.
func periodAt(t time.Time, loc *time.Location) period {
	p := repairedPeriod(t, loc)
	for range maxMerges {
		if p.end.IsZero() {
			break
		}
		q := repairedPeriod(p.end, loc)
		if q.off != p.off || !q.end.IsZero() && !q.end.After(p.end) {
			break
		}
		p.end = q.end
	}
	for range maxMerges {
		if p.start.IsZero() {
			break
		}
		q := repairedPeriod(p.start.Add(-time.Nanosecond), loc)
		if q.off != p.off || !q.start.IsZero() && !q.start.Before(p.start) {
			break
		}
		p.start = q.start
	}
	return p
}

// repairedPeriod is rawPeriod with an end that is after t and a start that is not: where
// ZoneBounds gives an end at or before t, the period goes on to the end of the one holding the
// next UTC midnight if that has the same offset, and ends at that midnight if not.
func repairedPeriod(t time.Time, loc *time.Location) period {
	p := rawPeriod(t, loc)
	if !p.start.IsZero() && p.start.After(t) {
		p.start = t // not seen; a period must hold t
	}
	if !p.end.IsZero() && !p.end.After(t) {
		midnight := t.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		if q := rawPeriod(midnight, loc); q.off == p.off && (q.end.IsZero() || q.end.After(midnight)) {
			p.end = q.end
		} else {
			p.end = midnight
		}
	}
	return p
}

// zone looks up the periods of one calendar's zone for one search, keeping the last few it
// found: a search asks for the same period again and again, and each lookup after the zone's
// last listed transition has Go parse the zone's rule string anew. A zone is not safe for
// concurrent use: each search has its own.
type zone struct {
	loc    *time.Location
	recent [4]period
	n      int // periods in recent, the latest at (next-1) mod len
	next   int
	// lookups counts the periods looked up, for tests that bound a search's work.
	lookups int
}

// newZone starts the period lookups of one search in loc.
func newZone(loc *time.Location) *zone { return &zone{loc: loc} }

// at is the period holding instant t.
func (z *zone) at(t time.Time) period {
	for i := range z.n {
		if p := z.recent[i]; p.contains(t) {
			return p
		}
	}
	z.lookups++
	p := periodAt(t, z.loc)
	z.recent[z.next] = p
	z.next = (z.next + 1) % len(z.recent)
	if z.n < len(z.recent) {
		z.n++
	}
	return p
}

// contains reports whether instant t is in p.
func (p period) contains(t time.Time) bool {
	return (p.start.IsZero() || !t.Before(p.start)) && (p.end.IsZero() || t.Before(p.end))
}

// maxOffset is beyond the largest distance between a clock and UTC any zone has had (local mean
// times included), so every instant showing a reading w lies within maxOffset of w.
const maxOffset = 26 * time.Hour

// instant is the instant loc's clock shows reading w; when it shows it twice (a repeated hour),
// the earlier one; when never (a gap where it springs forward), the first instant after the
// gap. The periods around w are walked with ZoneBounds, in order, rather than trusting
// time.Date's normalisation of a reading inside a gap.
func instant(w time.Time, z *zone) time.Time {
	p := z.at(w.Add(-maxOffset))
	for {
		i := w.Add(-p.off)
		if p.contains(i) {
			return i
		}
		if !p.start.IsZero() && i.Before(p.start) {
			// The clock already read past w when this period began, and no earlier period
			// showed w: w is in the gap that ends here.
			return p.start
		}
		if p.end.IsZero() {
			return i // not reached: an unbounded period contains every later instant
		}
		p = z.at(p.end)
	}
}

// wallNext is s's first matching reading strictly after reading w, false when there is none
// before limit. robfig/cron's Next gives up about five years ahead (returning the zero time),
// so the search goes on from there: February 29th of 2096 is followed by that of 2104.
func wallNext(s *cron.SpecSchedule, w, limit time.Time) (time.Time, bool) {
	for w.Before(limit) {
		if n := s.Next(w); !n.IsZero() {
			return n, n.Before(limit)
		}
		w = time.Date(w.Year()+5, time.January, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
	}
	return time.Time{}, false
}

// cronNext is s's first slot strictly after t in z's zone; false when there is none up
// to limit (a slot after limit may be returned too).
//
// Readings up to t's own map to instants at or before t, and the instant of a later reading is
// never earlier than that of an earlier one, so the walk starts from t's reading and takes the
// first match whose instant is after t. In the second pass of a repeated hour the readings
// still to come on the clock until the repeat ends were shown in the first pass, where they
// map, before t: the walk starts at the repeat's end instead of stepping over them one by one.
func cronNext(s *cron.SpecSchedule, t, limit time.Time, z *zone) (time.Time, bool) {
	p := z.at(t)
	w := t.UTC().Add(p.off)
	if !p.start.IsZero() {
		before := z.at(p.start.Add(-time.Nanosecond))
		if back := before.off - p.off; back > 0 && t.Before(p.start.Add(back)) {
			// The repeat ends at reading p.start+before.off: start just before it, so that it
			// is the first reading tried.
			w = p.start.UTC().Add(before.off).Add(-time.Nanosecond)
		}
	}
	wallLimit := limit.UTC().Add(maxOffset)
	for {
		n, ok := wallNext(s, w, wallLimit)
		if !ok {
			return time.Time{}, false
		}
		if i := instant(n, z); i.After(t) {
			return i, true
		}
		w = n
	}
}

// century bounds the distance from the anchor and the interval within which everyNext can use
// time.Duration arithmetic without overflow (time.Duration spans about 292 years).
const century = 100 * 365 * 24 * time.Hour

// everyNext is the first interval slot strictly after t: anchor + k*every for the smallest such
// whole k, computed, not stepped to.
func (c *Calendar) everyNext(t time.Time) time.Time {
	if d := t.Sub(c.anchor); d > -century && d < century && c.every <= century {
		k := d / c.every
		if d%c.every < 0 {
			k-- // floor, not truncation, before the anchor
		}
		return c.anchor.Add(k * c.every).Add(c.every)
	}
	// Centuries away: the same in big integers of nanoseconds.
	ns := big.NewInt(t.Unix() - c.anchor.Unix())
	ns.Mul(ns, big.NewInt(int64(time.Second)))
	ns.Add(ns, big.NewInt(int64(t.Nanosecond()-c.anchor.Nanosecond())))
	every := big.NewInt(int64(c.every))
	k := new(big.Int).Div(ns, every) // Euclidean division: the floor, as every > 0
	k.Add(k, big.NewInt(1))
	k.Mul(k, every)
	sec, nsec := new(big.Int).DivMod(k, big.NewInt(int64(time.Second)), new(big.Int))
	return time.Unix(c.anchor.Unix()+sec.Int64(), int64(c.anchor.Nanosecond())+nsec.Int64()).UTC()
}
