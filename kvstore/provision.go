package kvstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Config shapes the streams and buckets Provision creates.
type Config struct {
	// Replicas is the replica count of every stream and bucket: 1 on a single server, 3 on a
	// cluster. 0 means 1.
	Replicas int
	// Memory keeps everything in memory instead of on disk: for benchmarks and tests only, since
	// a server restart then loses every run.
	Memory bool
	// EventsMaxAge bounds how long run events (the execution log) are kept; 0 means 30 days.
	EventsMaxAge time.Duration
	// ResultsMaxAge bounds how long job results of unfinished runs are kept; 0 means 7 days.
	// Results of finished runs are purged at once.
	ResultsMaxAge time.Duration
	// Duplicates is the de-duplication window of the work streams; 0 means 2 minutes.
	Duplicates time.Duration
	// MemoryMaxAge bounds how long a memory data store's key lives when its run's end is never
	// processed; 0 means 7 days.
	MemoryMaxAge time.Duration
	// NodesTTL is how long a node stays in the registry without refreshing its registration
	// (the bucket's MaxAge); 0 means DefaultNodesTTL. Agents refresh every third of it.
	NodesTTL time.Duration
}

func (c Config) storage() jetstream.StorageType {
	if c.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func (c Config) replicas() int { return max(c.Replicas, 1) }

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Streams returns the configuration of every fleetbook stream.
func (c Config) Streams() []jetstream.StreamConfig {
	dup := orDefault(c.Duplicates, 2*time.Minute)
	return []jetstream.StreamConfig{
		{
			Name:        protocol.RunsStreamName,
			Description: "fleetbook run messages, held by the coordinator driving each run",
			Subjects:    []string{protocol.RunsSubjectWildcard},
			Retention:   jetstream.WorkQueuePolicy,
			Discard:     jetstream.DiscardNew,
			Storage:     c.storage(),
			Replicas:    c.replicas(),
			Duplicates:  dup,
		},
		{
			Name:        protocol.JobsStreamName,
			Description: "fleetbook step jobs for workers",
			Subjects:    []string{protocol.JobsSubjectWildcard},
			Retention:   jetstream.WorkQueuePolicy,
			// A full queue must refuse new jobs loudly rather than drop accepted ones.
			Discard:    jetstream.DiscardNew,
			Storage:    c.storage(),
			Replicas:   c.replicas(),
			Duplicates: dup,
		},
		{
			Name:        protocol.ResultsStreamName,
			Description: "fleetbook job results, kept until their run ends",
			Subjects:    []string{protocol.ResultsSubjectWildcard},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      orDefault(c.ResultsMaxAge, 7*24*time.Hour),
			Storage:     c.storage(),
			Replicas:    c.replicas(),
			Duplicates:  dup,
			// Workers look a job's result up by subject before running it.
			AllowDirect: true,
		},
		{
			Name:        protocol.EventsStreamName,
			Description: "fleetbook run events: live progress and execution log",
			Subjects:    []string{protocol.EventsSubjectWildcard},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      orDefault(c.EventsMaxAge, 30*24*time.Hour),
			Storage:     c.storage(),
			Replicas:    c.replicas(),
			Duplicates:  dup,
			AllowDirect: true,
		},
	}
}

// Buckets returns the configuration of every fleetbook KV bucket.
func (c Config) Buckets() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{
			Bucket:      protocol.RunsBucket,
			Description: "fleetbook run records",
			History:     5,
			Storage:     c.storage(),
			Replicas:    c.replicas(),
		},
		{
			Bucket:      protocol.SubmissionsBucket,
			Description: "fleetbook idempotency keys of submitted runs",
			History:     1,
			Storage:     c.storage(),
			Replicas:    c.replicas(),
		},
		{
			Bucket:      protocol.SecretsBucket,
			Description: "fleetbook sensitive input values of unfinished runs, deleted when each run ends",
			History:     1,
			Storage:     c.storage(),
			Replicas:    c.replicas(),
		},
		{
			Bucket:      protocol.DataBucket,
			Description: "fleetbook default data store (type kv), shared between runs",
			History:     5,
			Storage:     c.storage(),
			Replicas:    c.replicas(),
		},
		{
			Bucket:      protocol.MemoryBucket,
			Description: "fleetbook memory data stores, one key prefix per run, dropped when the run ends",
			History:     1,
			// A safety net for runs whose end was never processed; every write refreshes a key.
			TTL:      orDefault(c.MemoryMaxAge, 7*24*time.Hour),
			Storage:  c.storage(),
			Replicas: c.replicas(),
		},
		{
			Bucket:      protocol.LocksBucket,
			Description: "fleetbook playbook locks on kv stores: one key per lock, with a TTL lease",
			History:     1,
			// Enables per-key TTLs (the lease) and makes the server write a marker, seen by
			// waiters' watches, when a lease expires.
			LimitMarkerTTL: time.Second,
			Storage:        c.storage(),
			Replicas:       c.replicas(),
		},
		c.nodesBucket(),
		c.agentsBucket(),
	}
}

// Provision creates every stream and bucket fleetbook uses, or updates them to cfg. It is safe to
// call from every process at start-up, concurrently.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	for _, sc := range cfg.Streams() {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	for _, bc := range cfg.Buckets() {
		if _, err := js.CreateOrUpdateKeyValue(ctx, bc); err != nil {
			return fmt.Errorf("provision bucket %s: %w", bc.Bucket, err)
		}
	}
	return nil
}
