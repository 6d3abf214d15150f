package metrics

import "time"

// LockWaited counts a wait for a playbook lock, which ended with the lock taken or not, and
// observes how long it lasted.
func (m *Metrics) LockWaited(acquired bool, waited time.Duration) {
	if m == nil {
		return
	}
	o := "acquired"
	if !acquired {
		o = "failed"
	}
	m.lockWaits.WithLabelValues(o).Inc()
	m.lockWait.Observe(max(waited, 0).Seconds())
}
