package coordinator

import (
	"context"

	"github.com/fleetbook/fleetbook/protocol"
)

// changeCounted is schedules.Change counting, once the change is stored, the slots it skipped
// and missed (the fired and refused ones are counted by fireDecided as each is recorded). Every
// change of a schedule that can decide slots goes through it. A try that lost its
// compare-and-set is decided again on the fresh schedule, so only the stored try counts.
func (c *Coordinator) changeCounted(ctx context.Context, name string, f func(*protocol.Schedule) (bool, error)) (*protocol.Schedule, error) {
	var skipped, missed int
	sc, err := c.schedules.Change(ctx, name, func(sc *protocol.Schedule) (bool, error) {
		skipped, missed = sc.State.Skipped, sc.State.Missed
		return f(sc)
	})
	if err == nil {
		c.opts.metrics.ScheduleSlots(protocol.SlotSkipped, sc.State.Skipped-skipped)
		c.opts.metrics.ScheduleSlots(protocol.SlotMissed, sc.State.Missed-missed)
	}
	return sc, err
}
