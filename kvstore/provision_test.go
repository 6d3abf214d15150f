package kvstore

import (
	"context"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// Asking a single server for 3 replicas fails with a message that says what to do.
func TestProvisionReplicasOnSingleServer(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := context.Background()
	if err := Provision(ctx, js, Config{}); err != nil {
		t.Fatal(err)
	}
	err := Provision(ctx, js, Config{Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "not clustered (use --replicas 1)") {
		t.Fatalf("want a clear replicas error, got %v", err)
	}
}

// The queue limits apply to the work streams, and a process configuring none keeps the limit
// another one set.
func TestProvisionKeepsQueueLimits(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := context.Background()
	if err := Provision(ctx, js, Config{MaxRuns: 10, MaxJobs: 20}); err != nil {
		t.Fatal(err)
	}
	if err := Provision(ctx, js, Config{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{protocol.RunsStreamName: 10, protocol.JobsStreamName: 20} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().Config.MaxMsgs; got != want {
			t.Errorf("%s MaxMsgs %d, want %d", name, got, want)
		}
	}
}
