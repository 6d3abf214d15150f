package coordinator

import (
	"fmt"
	"testing"

	"github.com/fleetbook/fleetbook/metrics"
)

// newMetrics is a Metrics of its own for one coordinator of a test.
func newMetrics(t *testing.T) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// countedOnce checks that m counted want events of the metric name, over all its label values
// (a histogram's events are its observations).
func countedOnce(t *testing.T, m *metrics.Metrics, name string, want float64) error {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			got += s.GetCounter().GetValue() + float64(s.GetHistogram().GetSampleCount())
		}
	}
	if got != want {
		return fmt.Errorf("%s counted %v, want %v", name, got, want)
	}
	return nil
}
