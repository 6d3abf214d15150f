package kvstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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
	// AuditMaxAge bounds how long audit records are kept; 0 means DefaultAuditMaxAge.
	AuditMaxAge time.Duration
	// ResultsMaxAge bounds how long job results are kept; 0 means 30 days, the events' age and
	// the coordinators' default --keep-runs. Results are the per-node outcomes of a run's steps
	// (runs.nodes) and go with the run when it is pruned; a run kept longer than ResultsMaxAge
	// keeps only the nodes its record holds (at most 1,000 per step).
	ResultsMaxAge time.Duration
	// Duplicates is the de-duplication window of the work streams; 0 means 2 minutes.
	Duplicates time.Duration
	// MemoryMaxAge bounds how long a memory data store's key lives when its run's end is never
	// processed; 0 means 7 days.
	MemoryMaxAge time.Duration
	// NodesTTL is how long a node stays in the registry without refreshing its registration
	// (the bucket's MaxAge); 0 means DefaultNodesTTL. Agents refresh every third of it.
	NodesTTL time.Duration
	// MaxRuns bounds the runs queued or in flight (messages of the RUNS stream); a submit beyond it
	// is refused with protocol.CodeQueueFull. 0 keeps the stream's current limit (none when new).
	MaxRuns int64
	// MaxJobs bounds the jobs queued or in flight (messages of the JOBS stream); a coordinator
	// finding it full waits and retries, so accepted runs slow down instead of losing steps.
	// 0 keeps the stream's current limit (none when new).
	MaxJobs int64
	// Await is for a process whose credentials may not create streams or buckets (a worker or a
	// node agent under fleetbook's role permissions): instead of provisioning, it waits until a
	// coordinator has provisioned what it needs.
	Await bool
}

// DefaultResultsMaxAge is how long job results are kept when Config.ResultsMaxAge is unset: as
// long as events, so a run kept for the default 30 days keeps every node's outcome.
const DefaultResultsMaxAge = 30 * 24 * time.Hour

// DefaultAuditMaxAge is how long audit records are kept when Config.AuditMaxAge is unset: a
// quarter, longer than the runs they are about (30 days by default).
const DefaultAuditMaxAge = 90 * 24 * time.Hour

func (c Config) storage() jetstream.StorageType {
	if c.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func (c Config) replicas() int { return max(c.Replicas, 1) }

// limit turns a configured bound into a stream limit: 0 (unset) is unlimited (-1).
func limit(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

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
			// A full queue refuses new runs loudly (protocol.CodeQueueFull) and drops none.
			Discard:    jetstream.DiscardNew,
			MaxMsgs:    limit(c.MaxRuns),
			Storage:    c.storage(),
			Replicas:   c.replicas(),
			Duplicates: dup,
		},
		{
			Name:        protocol.JobsStreamName,
			Description: "fleetbook step jobs for workers",
			Subjects:    []string{protocol.JobsSubjectWildcard},
			Retention:   jetstream.WorkQueuePolicy,
			// A full queue must refuse new jobs loudly rather than drop accepted ones.
			Discard:    jetstream.DiscardNew,
			MaxMsgs:    limit(c.MaxJobs),
			Storage:    c.storage(),
			Replicas:   c.replicas(),
			Duplicates: dup,
		},
		{
			Name:        protocol.ResultsStreamName,
			Description: "fleetbook job results: the per-node outcomes of each run, kept with the run",
			Subjects:    []string{protocol.ResultsSubjectWildcard},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      orDefault(c.ResultsMaxAge, DefaultResultsMaxAge),
			Storage:     c.storage(),
			Replicas:    c.replicas(),
			Duplicates:  dup,
			// Workers look a job's result up by subject before running it. On a cluster that
			// lookup must not be answered by a lagging replica (a missed result runs the job
			// again; the fault suite's N8 row measured 7.6% stale direct reads under load), so
			// only a single server, where every read is current, answers directly.
			AllowDirect: c.replicas() == 1,
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
		{
			Name:        protocol.AuditStreamName,
			Description: "fleetbook audit records: every submit, cancel and prune decided, and every refusal",
			Subjects:    []string{protocol.AuditSubjectWildcard},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      orDefault(c.AuditMaxAge, DefaultAuditMaxAge),
			Storage:     c.storage(),
			Replicas:    c.replicas(),
			Duplicates:  dup,
			// Append-only: no API call removes a record before its age, whoever asks.
			DenyDelete: true,
			DenyPurge:  true,
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
			// Enables the expiring marker a pruned record leaves (RunPurgeMarkerTTL); the bucket
			// has no age limit, so the server itself writes no marker.
			LimitMarkerTTL: time.Second,
			Storage:        c.storage(),
			Replicas:       c.replicas(),
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
		{
			Bucket:      protocol.AttemptsBucket,
			Description: "fleetbook records of started jobs: which worker runs each, kept as long as its run",
			History:     1,
			Storage:     c.storage(),
			Replicas:    c.replicas(),
		},
		{
			Bucket:      protocol.SchedulesBucket,
			Description: "fleetbook schedules: calendar, policies, playbook and the state of their slots",
			// One revision is the compare-and-set; older ones would only keep sealed inputs
			// longer than the schedule does.
			History:  1,
			Storage:  c.storage(),
			Replicas: c.replicas(),
		},
		c.nodesBucket(),
		c.agentsBucket(),
	}
}

// Provision creates every stream and bucket fleetbook uses, or updates them to cfg. It is safe to
// call from every process at start-up, concurrently. The streams and buckets are independent, so
// they are made side by side: one after the other, a new data dir waited about 0.2 s for them.
// The first failure, in the order of cfg.Streams and then cfg.Buckets, is returned.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	streams, buckets := cfg.Streams(), cfg.Buckets()
	errs := make([]error, len(streams)+len(buckets))
	var wg sync.WaitGroup
	for i, sc := range streams {
		wg.Go(func() {
			keepLimit(ctx, js, &sc)
			err := ensure(ctx, js, sc.Name, sc, func() error { _, err := js.CreateOrUpdateStream(ctx, sc); return err })
			if err != nil {
				errs[i] = fmt.Errorf("provision stream %s: %w", sc.Name, replicasHint(ctx, js, sc.Name, cfg.replicas(), err))
			}
		})
	}
	for i, bc := range buckets {
		wg.Go(func() {
			want := jetstream.StreamConfig{Description: bc.Description, MaxMsgsPerSubject: int64(bc.History), MaxAge: bc.TTL,
				Storage: bc.Storage, Replicas: bc.Replicas, SubjectDeleteMarkerTTL: bc.LimitMarkerTTL}
			err := ensure(ctx, js, protocol.BucketStreamName(bc.Bucket), want, func() error { _, err := js.CreateOrUpdateKeyValue(ctx, bc); return err })
			if err != nil {
				errs[len(streams)+i] = fmt.Errorf("provision bucket %s: %w", bc.Bucket, replicasHint(ctx, js, protocol.BucketStreamName(bc.Bucket), cfg.replicas(), err))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// AwaitProvisioned waits until every stream and bucket of cfg exists, or ctx ends: what a worker
// does instead of Provision when its credentials may not create them.
func AwaitProvisioned(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	var names []string
	for _, sc := range cfg.Streams() {
		names = append(names, sc.Name)
	}
	for _, bc := range cfg.Buckets() {
		names = append(names, protocol.BucketStreamName(bc.Bucket))
	}
	for _, name := range names {
		if err := awaitStream(ctx, js, name); err != nil {
			return err
		}
	}
	return nil
}

// awaitPoll is how often, at most, a process waiting for a coordinator to provision looks again.
// It first looks again after awaitFirstPoll and doubles the pause from there: a coordinator
// started alongside (as in `run --embedded`) provisions within milliseconds, and a flat 200 ms
// poll made a one-shot run in a new data dir wait for its worker about 120 ms.
const (
	awaitPoll      = 200 * time.Millisecond
	awaitFirstPoll = 5 * time.Millisecond
)

// awaitStream waits until stream name exists.
func awaitStream(ctx context.Context, js jetstream.JetStream, name string) error {
	for pause := awaitFirstPoll; ; pause = min(2*pause, awaitPoll) {
		_, err := js.Stream(ctx, name)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !Transient(err) {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream %s: not provisioned by any coordinator yet: %w", name, ctx.Err())
		case <-time.After(pause):
		}
	}
}

// provisionAttempts bounds the tries of one stream's or bucket's creation.
const provisionAttempts = 5

// ensure makes stream name match want by calling apply, unless it already does. On a cluster,
// processes starting together create the same streams at once and all but one of them may get
// no answer in time, or JetStream may still be electing: such errors are tried again, and the stream that another process created in
// the meantime is then found as wanted.
func ensure(ctx context.Context, js jetstream.JetStream, name string, want jetstream.StreamConfig, apply func() error) error {
	for attempt := 1; ; attempt++ {
		if st, err := js.Stream(ctx, name); err == nil && covers(st.CachedInfo().Config, want) {
			return nil
		}
		err := apply()
		if err == nil || attempt == provisionAttempts || !Transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
		}
	}
}

// Transient reports whether a JetStream error may go away by itself: no answer in time, nobody
// answering, or JetStream temporarily unavailable (a cluster electing its leaders).
func Transient(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.As(err, &apiErr) && apiErr.Code == 503
}

// covers reports whether an existing stream has every setting Provision chooses as want has it.
// A bucket's want has no subjects and sets only what a bucket's configuration maps to.
func covers(have, want jetstream.StreamConfig) bool {
	same := have.Description == want.Description && have.MaxAge == want.MaxAge && have.Storage == want.Storage &&
		have.Replicas == max(want.Replicas, 1) && have.MaxMsgsPerSubject == nonZero(want.MaxMsgsPerSubject) &&
		have.SubjectDeleteMarkerTTL == want.SubjectDeleteMarkerTTL
	if len(want.Subjects) == 0 {
		return same
	}
	return same && slices.Equal(have.Subjects, want.Subjects) && have.Retention == want.Retention &&
		have.Discard == want.Discard && have.MaxMsgs == nonZero(want.MaxMsgs) && have.Duplicates == want.Duplicates &&
		have.AllowDirect == want.AllowDirect
}

// nonZero is a limit as the server reports it: unset is -1.
func nonZero(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// keepLimit leaves an existing work queue's MaxMsgs alone when this process configures none, so a
// worker started without the limit does not lift the one the coordinators set.
func keepLimit(ctx context.Context, js jetstream.JetStream, sc *jetstream.StreamConfig) {
	if sc.Retention != jetstream.WorkQueuePolicy || sc.MaxMsgs > 0 {
		return
	}
	if st, err := js.Stream(ctx, sc.Name); err == nil {
		sc.MaxMsgs = st.CachedInfo().Config.MaxMsgs
	}
}

// replicasHint explains a provisioning failure caused by the replica count: a single server
// refuses more than one replica, and an existing stream may have been made with another count.
func replicasHint(ctx context.Context, js jetstream.JetStream, stream string, want int, err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrReplicasNotSupported {
		return fmt.Errorf("%w: %d replicas need a NATS cluster; this server is not clustered (use --replicas 1)", err, want)
	}
	if st, serr := js.Stream(ctx, stream); serr == nil {
		if have := st.CachedInfo().Config.Replicas; have != want {
			return fmt.Errorf("%w: it exists with %d replicas and cannot be changed to %d here (keep --replicas %d, or change the stream with the nats CLI)", err, have, want, have)
		}
	}
	return err
}

// jsErrReplicasNotSupported is the server's error code for replicas > 1 on a single server.
const jsErrReplicasNotSupported jetstream.ErrorCode = 10074

// IsQueueFull reports whether err is a publish refused because its stream is at its MaxMsgs or
// MaxBytes limit (DiscardNew): nothing was stored.
func IsQueueFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jsErrStoreFailed {
		return false
	}
	d := apiErr.Description
	return strings.Contains(d, "maximum messages") || strings.Contains(d, "maximum bytes")
}

// jsErrStoreFailed is the server's error code for a message it refused to store.
const jsErrStoreFailed jetstream.ErrorCode = 10077
