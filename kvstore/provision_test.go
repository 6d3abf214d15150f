package kvstore

import (
	"context"
	"errors"
	"slices"
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

// Processes starting together on a cluster all provision the R3 streams and buckets, although the
// cluster leaves concurrent creations of one stream unanswered; afterwards every stream and
// bucket is found as wanted, so later starts change nothing.
func TestProvisionConcurrentlyOnCluster(t *testing.T) {
	c := natstest.RunCluster(t, 3)
	cfg := Config{Replicas: 3}
	errs := make(chan error, 4)
	for range 4 {
		_, js := natstest.Connect(t, c.URLs())
		go func() { errs <- Provision(context.Background(), js, cfg) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("provision: %v", err)
		}
	}
	_, js := natstest.Connect(t, c.URLs())
	ctx := context.Background()
	for _, sc := range cfg.Streams() {
		st, err := js.Stream(ctx, sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		sc.MaxMsgs = 0
		if !covers(st.CachedInfo().Config, sc) {
			t.Errorf("stream %s not as wanted: %+v", sc.Name, st.CachedInfo().Config)
		}
	}
	for _, bc := range cfg.Buckets() {
		st, err := js.Stream(ctx, "KV_"+bc.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if st.CachedInfo().Config.Replicas != 3 {
			t.Errorf("bucket %s has %d replicas", bc.Bucket, st.CachedInfo().Config.Replicas)
		}
	}
}

// TestEveryProvisionedBucketIsSealed: every bucket Provision creates but the data bucket is in
// protocol.InternalBuckets and refused as a playbook's data store bucket, so adding a bucket
// without sealing it fails here.
func TestEveryProvisionedBucketIsSealed(t *testing.T) {
	for _, bc := range (Config{}).Buckets() {
		err := protocol.CheckDataBucket(bc.Bucket)
		if bc.Bucket == protocol.DataBucket {
			if err != nil {
				t.Errorf("the data bucket is refused: %v", err)
			}
			continue
		}
		if !errors.Is(err, protocol.ErrReservedBucket) {
			t.Errorf("bucket %s is open to playbooks: %v", bc.Bucket, err)
		}
		if !slices.Contains(protocol.InternalBuckets, bc.Bucket) {
			t.Errorf("bucket %s is missing from protocol.InternalBuckets", bc.Bucket)
		}
	}
	if got, want := len(protocol.InternalBuckets), len((Config{}).Buckets())-1; got != want {
		t.Errorf("protocol.InternalBuckets has %d names, Provision creates %d buckets besides the data bucket", got, want)
	}
}
