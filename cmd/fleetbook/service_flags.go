package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/kvstore"
)

// serviceFlags tune coordinators and workers.
type serviceFlags struct {
	lease    time.Duration
	replicas int
}

func (f *serviceFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.lease, "lease", 30*time.Second, "how long a run or job may go without a heartbeat before another process takes it over")
	cmd.Flags().IntVar(&f.replicas, "replicas", 1, "replicas of every stream and bucket (3 on a NATS cluster)")
}

func (f *serviceFlags) store() kvstore.Config { return kvstore.Config{Replicas: f.replicas} }
