package metrics

import "github.com/fleetbook/fleetbook/protocol"

// ScheduleSlots counts n schedule slots decided with outcome (fired, skipped, missed, refused),
// once the schedule change that decided them is stored.
func (m *Metrics) ScheduleSlots(outcome protocol.SlotOutcome, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.scheduleSlots.WithLabelValues(string(outcome)).Add(float64(n))
}
