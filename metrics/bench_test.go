package metrics_test

import (
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
)

// BenchmarkCountStep is what a one-step run adds to the coordinator and worker when metrics are
// on: a submit, a start, a job run, a step end and a finish.
func BenchmarkCountStep(b *testing.B) {
	m, err := metrics.New()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.RunSubmitted("deploy")
		m.RunStarted("deploy")
		m.JobStarted("default")
		m.JobRan("default", "shell", true)
		m.JobEnded("default")
		m.StepFinished("shell", true, time.Millisecond)
		m.RunFinished("deploy", protocol.StatusSuccess, 5*time.Millisecond)
	}
}

// BenchmarkNodeReplied is the cost per node of an rpc fan-out.
func BenchmarkNodeReplied(b *testing.B) {
	m, err := metrics.New()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.NodeReplied(metrics.NodeOK, time.Millisecond)
	}
}
