package metrics

import (
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// RunSubmitted counts a run accepted by the API: called once, when its record was created.
func (m *Metrics) RunSubmitted(playbook string) {
	if m == nil {
		return
	}
	m.runsSubmitted.WithLabelValues(m.books.value(playbook)).Inc()
}

// RunStarted counts a run that a coordinator began driving, once the claim that moved it from
// pending to running is stored.
func (m *Metrics) RunStarted(playbook string) {
	if m == nil {
		return
	}
	m.runsStarted.WithLabelValues(m.books.value(playbook)).Inc()
}

// RunFinished counts a run whose final status was stored, and observes how long it ran (took:
// from its start to its end; a run that never started observes nothing).
func (m *Metrics) RunFinished(playbook string, status protocol.RunStatus, took time.Duration) {
	if m == nil {
		return
	}
	m.runsFinished.WithLabelValues(m.books.value(playbook), string(status)).Inc()
	if took >= 0 {
		m.runDuration.WithLabelValues(string(status)).Observe(took.Seconds())
	}
}

// StepFinished observes a step whose end was stored: its task type, whether it succeeded (after
// fail_ok) and how long it took, every try included.
func (m *Metrics) StepFinished(taskType string, success bool, took time.Duration) {
	if m == nil {
		return
	}
	m.stepDuration.WithLabelValues(taskType, outcome(success)).Observe(max(took, 0).Seconds())
}

// StepRetried counts a failed try of a step that will be tried again, once the retry is stored.
func (m *Metrics) StepRetried(taskType string) {
	if m == nil {
		return
	}
	m.stepRetries.WithLabelValues(taskType).Inc()
}
