package main

import (
	"context"
	"log/slog"
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

// awaitStore is store for a worker: under fleetbook's permissions (secured) a worker may not
// create streams, so it waits for a coordinator to provision them.
func (f *serviceFlags) awaitStore(secured bool) kvstore.Config {
	cfg := f.store()
	cfg.Await = secured
	return cfg
}

// startPatience is how long a coordinator or worker keeps trying to start while JetStream is
// temporarily unavailable: a cluster that is electing its leaders, or still forming.
const startPatience = time.Minute

// runRetrying calls run until it returns for good: a start-up failure that JetStream may get over
// by itself is tried again, after a pause, for up to startPatience.
func runRetrying(ctx context.Context, log *slog.Logger, what string, run func(context.Context) error) error {
	giveUp := time.Now().Add(startPatience)
	for {
		err := run(ctx)
		if err == nil || ctx.Err() != nil || !kvstore.Transient(err) || time.Now().After(giveUp) {
			return err
		}
		log.Warn(what+" could not start; trying again", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
