package bench

import (
	"slices"
	"time"
)

// percentile returns the p-th percentile (0-100) of samples by the nearest-rank method; 0 when
// there are none. It sorts samples.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	rank := int(p/100*float64(len(samples))+0.5) - 1
	return samples[min(max(rank, 0), len(samples)-1)]
}

// ms expresses d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// limit says when a measurement loop stops: after n operations or once d has passed, whichever
// comes first. A zero field does not limit.
type limit struct {
	n int
	d time.Duration
}

// over reports whether done operations started at start reach the limit.
func (l limit) over(done int, start time.Time) bool {
	return l.n > 0 && done >= l.n || l.d > 0 && time.Since(start) >= l.d
}
