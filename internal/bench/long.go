package bench

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// longPlaybook is a run of steps no-op steps, one after the other.
func longPlaybook(steps int) string {
	return fmt.Sprintf(`name: bench_noop_%d_steps
version: "1.0.0"
author: fleetbook bench
description: %d no-op steps
tasks:
`, steps, steps) + strings.Repeat(`  - noop:
      msg: done
`, steps)
}

// longRuns measures runs of many steps: runs of short steps and runs of long steps, as many
// steps of each, inflight runs at once, each a rate in steps per second. Per step, the long runs should cost what
// the short ones cost; growth is how many times more they cost (1 is flat).
type longRuns struct {
	short, long int
	shortRate   rate
	longRate    rate
}

// growth is the per-step time of the long runs over that of the short runs.
func (l longRuns) growth() float64 {
	if l.longRate.perSecond() == 0 {
		return 0
	}
	return l.shortRate.perSecond() / l.longRate.perSecond()
}

// measureLongRuns runs runs runs of long steps, inflight at a time, and before them as many steps
// in runs of short steps (runs*long/short of them), so that both samples are the same size.
func measureLongRuns(ctx context.Context, s *Stack, short, long, runs, inflight int) (longRuns, error) {
	l := longRuns{short: short, long: long}
	var err error
	if l.shortRate, err = stepsPerSecondOf(ctx, s, longPlaybook(short), short, inflight, limit{n: runs * long}); err != nil {
		return l, fmt.Errorf("runs of %d steps: %w", short, err)
	}
	if l.longRate, err = stepsPerSecondOf(ctx, s, longPlaybook(long), long, inflight, limit{n: runs * long}); err != nil {
		return l, fmt.Errorf("runs of %d steps: %w", long, err)
	}
	return l, nil
}

// note describes the measurement.
func (l longRuns) note(runs, inflight int) string {
	return fmt.Sprintf("long runs: %d runs of %d no-op steps (%d in flight) %.0f steps/s in %s; %d runs of %d steps %.0f steps/s in %s; per-step time %.2fx",
		runs, l.long, inflight, l.longRate.perSecond(), l.longRate.elapsed.Round(time.Millisecond),
		runs*l.long/l.short, l.short, l.shortRate.perSecond(), l.shortRate.elapsed.Round(time.Millisecond), l.growth())
}
