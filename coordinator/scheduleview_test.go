package coordinator

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// An evaluation round over schedules that are not due reads nothing from the server: the
// coordinator keeps its own view from a watch. (It used to read every schedule at every round,
// thousands of reads a second for thousands of schedules.) A change still reaches the view, and a
// slot that comes due still fires.
func TestScheduleRoundsReadNothingUntilASlotIsDue(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	clock := newFakeClock(scheduleEpoch.Add(time.Second))
	nc, _ := natstest.Connect(t, e.url)
	c := e.runCoordinatorOn(nc, WithName("viewer"), WithLease(time.Second), WithClock(clock.now), WithScheduleTick(10*time.Millisecond))
	e.startTestWorker(succeed)
	e.awaitScheduleAPI()

	const schedules = 40
	for i := range schedules {
		e.addSchedule(fmt.Sprintf("s%02d", i), protocol.SchedulePolicies{}, nil)
	}
	rounds := func(n int64) {
		t.Helper()
		start := c.scheduleEvaluations.Load()
		natstest.Eventually(t, time.Minute, func() error {
			if got := c.scheduleEvaluations.Load() - start; got < n {
				return fmt.Errorf("%d evaluation rounds of %d", got, n)
			}
			return nil
		})
	}
	rounds(5) // the view has taken every schedule in
	before := nc.Stats().OutMsgs
	rounds(30)
	sent := nc.Stats().OutMsgs - before
	// Reading the schedules would be at least one message per schedule per round (30 × 40);
	// what the coordinator sends otherwise (run pulls, heartbeats) is a few.
	if sent >= 30 {
		t.Fatalf("the coordinator sent %d messages over 30 rounds of %d schedules none of which was due", sent, schedules)
	}
	clock.advance(time.Minute)
	for i := range schedules {
		e.waitSchedule(fmt.Sprintf("s%02d", i), fired(1))
	}
}
