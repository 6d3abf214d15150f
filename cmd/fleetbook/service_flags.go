package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/kvstore"
)

// serviceFlags tune coordinators and workers.
type serviceFlags struct {
	lease    time.Duration
	replicas int
	maxRuns  int64
	maxJobs  int64
}

func (f *serviceFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.lease, "lease", 30*time.Second, "how long a run or job may go without a heartbeat before another process takes it over")
	cmd.Flags().IntVar(&f.replicas, "replicas", 1, "replicas of every stream and bucket (3 on a NATS cluster)")
	cmd.Flags().Int64Var(&f.maxRuns, "max-queued-runs", 0, "runs queued or in flight before submits are refused with QUEUE_FULL (0: keep the current limit, none at first)")
	cmd.Flags().Int64Var(&f.maxJobs, "max-queued-jobs", 0, "step jobs queued or in flight before coordinators wait to publish more (0: keep the current limit, none at first)")
}

// keepRunsFlag registers --keep-runs, the retention of ended runs, on a command that runs a
// coordinator.
func keepRunsFlag(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "keep-runs", coordinator.DefaultKeepRuns,
		"how long ended runs are kept (record, idempotency key, events) before they are deleted; 0 keeps them for ever")
}

func (f *serviceFlags) store() kvstore.Config {
	return kvstore.Config{Replicas: f.replicas, MaxRuns: f.maxRuns, MaxJobs: f.maxJobs}
}
