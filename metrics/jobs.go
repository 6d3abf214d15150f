package metrics

// JobStarted counts a job this worker began to handle in the running gauge; JobEnded takes it
// out again, whatever became of it.
func (m *Metrics) JobStarted(pool string) {
	if m == nil {
		return
	}
	m.jobsRunning.WithLabelValues(pool).Inc()
}

// JobEnded takes a job JobStarted counted out of the running gauge.
func (m *Metrics) JobEnded(pool string) {
	if m == nil {
		return
	}
	m.jobsRunning.WithLabelValues(pool).Dec()
}

// JobRan counts a job this worker ran to a result that it published.
func (m *Metrics) JobRan(pool, taskType string, success bool) {
	if m == nil {
		return
	}
	m.workerJobs.WithLabelValues(pool, taskType, outcome(success)).Inc()
}
