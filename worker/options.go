package worker

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/discover"
	"github.com/fleetbook/fleetbook/worker/task"
)

// Option configures a Worker; it returns an error for a value it refuses outright, and New runs
// a validate step over all options afterwards.
type Option func(*options) error

type options struct {
	name          string
	pool          string
	concurrency   int
	ackWait       time.Duration
	maxDeliveries int
	grace         time.Duration
	log           *slog.Logger
	store         *kvstore.Config
	// slackAPI is the Slack Web API base URL, without the trailing slash.
	slackAPI string
	// pluginDir holds plugin task types; empty means none.
	pluginDir string
	puppetDB  string
	// keys open the sensitive values of runs and seal data-store writes derived from them; nil
	// means values are stored in clear (see WithSecretsKey).
	keys *kvstore.Keyring

	// fetchWait is how long one pull request waits for a job. It bounds how late an idle worker
	// notices shutdown, so it is short; it is not an Option because nobody needs to tune it
	// except tests.
	fetchWait time.Duration
	// drainWait is how long output is still read after a command's process group is gone, for a
	// process that escaped the group (setsid) and still holds the output pipe.
	drainWait time.Duration
	// metrics counts the jobs this worker runs and the node replies of its fan-outs; nil
	// counts nothing.
	metrics *metrics.Metrics

	// staleFloor is the shortest silence of a holder after which its job is taken over
	// (minStaleAfter); not an Option: only tests shorten it.
	staleFloor time.Duration
}

func defaultOptions() options {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return options{
		name:          fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8]),
		pool:          protocol.DefaultPool,
		concurrency:   4,
		ackWait:       30 * time.Second,
		maxDeliveries: 5,
		grace:         10 * time.Second,
		log:           slog.New(slog.DiscardHandler),
		fetchWait:     2 * time.Second,
		drainWait:     time.Second,
		staleFloor:    minStaleAfter,
		slackAPI:      task.DefaultSlackAPI,
	}
}

// validate checks the options together, after every Option ran.
func (o *options) validate() error {
	switch {
	case o.name == "":
		return fmt.Errorf("%w: worker name must not be empty", ErrInvalidOption)
	case !protocol.ValidToken(o.pool):
		return fmt.Errorf("%w: pool %q is not a valid subject token (empty, or contains '.', '*', '>' or whitespace)", ErrInvalidOption, o.pool)
	case o.concurrency < 1:
		return fmt.Errorf("%w: concurrency must be at least 1, got %d", ErrInvalidOption, o.concurrency)
	case o.ackWait < 100*time.Millisecond:
		// Heartbeats go every third of AckWait; below this they would flood the server.
		return fmt.Errorf("%w: ack wait %s is too short, need at least 100ms", ErrInvalidOption, o.ackWait)
	case o.maxDeliveries < 1:
		return fmt.Errorf("%w: max deliveries must be at least 1, got %d", ErrInvalidOption, o.maxDeliveries)
	case o.grace < 0:
		return fmt.Errorf("%w: shutdown grace must not be negative, got %s", ErrInvalidOption, o.grace)
	case o.log == nil:
		return fmt.Errorf("%w: logger must not be nil", ErrInvalidOption)
	case !task.IsHTTPURL(o.slackAPI):
		return fmt.Errorf("%w: Slack API URL %q is not an http:// or https:// URL", ErrInvalidOption, o.slackAPI)
	case o.fetchWait <= 0 || o.drainWait <= 0:
		return fmt.Errorf("%w: internal waits must be positive", ErrInvalidOption)
	}
	return nil
}

// heartbeat is how often a running job's lease is renewed: three chances per AckWait, so one lost
// or late InProgress does not cost the job.
func (o *options) heartbeat() time.Duration { return o.ackWait / 3 }

// WithName sets the worker's identity, recorded in every Result and log line. The default is
// hostname-pid-random, unique per process.
func WithName(name string) Option {
	return func(o *options) error { o.name = name; return nil }
}

// WithPool sets the pool whose jobs this worker takes; it must be a valid subject token.
// Default protocol.DefaultPool.
func WithPool(pool string) Option {
	return func(o *options) error { o.pool = pool; return nil }
}

// WithConcurrency sets how many jobs this process runs at once. Each slot pulls one job at a time,
// so the process never holds more jobs than it is running. Default 4.
func WithConcurrency(n int) Option {
	return func(o *options) error { o.concurrency = n; return nil }
}

// WithAckWait sets the AckWait of the pool's consumer: how long a job held by a worker that
// stopped heartbeating (died, paused) waits before it is delivered again. Running jobs send
// InProgress every AckWait/3. Every worker of a pool should use the same value, since the
// consumer is shared and the last worker to start sets it. Default 30s.
func WithAckWait(d time.Duration) Option {
	return func(o *options) error { o.ackWait = d; return nil }
}

// WithMaxDeliveries sets how many times a job may be started. A job is started again only when
// the worker running it went silent (it died, or lost the server, for longer than the takeover
// wait) or handed it back; a job started more often than this (every worker that took it died)
// is answered with a failed Result "abandoned after N starts" and terminated, so a job that kills
// its workers cannot go round forever. Deliveries that did not start the job (its holder was
// still alive, or the server failed) do not count. Default 5.
func WithMaxDeliveries(n int) Option {
	return func(o *options) error { o.maxDeliveries = n; return nil }
}

// WithShutdownGrace sets how long running jobs may still take once Run's context is cancelled.
// Jobs still running after it are killed (their whole process group) and handed back to the
// queue with a Nak, so another worker takes them at once. Default 10s.
func WithShutdownGrace(d time.Duration) Option {
	return func(o *options) error { o.grace = d; return nil }
}

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.log = l; return nil }
}

// WithStore makes Run provision every fleetbook stream and bucket with cfg before it starts, so a
// worker started before any coordinator works; with cfg.Await, Run waits for a coordinator to
// provision them instead (a worker's role may not create them). Without it the streams must
// already exist.
func WithStore(cfg kvstore.Config) Option {
	return func(o *options) error { o.store = &cfg; return nil }
}

// WithSlackAPI sets the base URL of the Slack Web API that slack tasks call (chat.postMessage is
// appended); a task's api_url property overrides it. Default task.DefaultSlackAPI.
func WithSlackAPI(url string) Option {
	return func(o *options) error { o.slackAPI = strings.TrimRight(url, "/"); return nil }
}

// WithPluginDir sets the directory of plugin task types: a job of type T runs the executable
// DIR/T described by DIR/T.yaml (see playbooks.LoadPlugin). Without it, plugin jobs fail as
// unsupported. The directory is read when a job needs it, so plugins can be added while the
// worker runs.
func WithPluginDir(dir string) Option {
	return func(o *options) error { o.pluginDir = dir; return nil }
}

// WithPuppetDB sets the base URL of the PuppetDB that pql node sets query (its /pdb/query/v4
// endpoint); a node set's url property overrides it. Default $FLEETBOOK_PUPPETDB_URL, or
// discover.DefaultPuppetDB.
func WithPuppetDB(base string) Option {
	return func(o *options) error {
		if err := discover.CheckPuppetDBURL(base); err != nil {
			return err
		}
		o.puppetDB = base
		return nil
	}
}

// puppetDBURL is the PuppetDB used when a node set names none.
func (o *options) puppetDBURL() string {
	if o.puppetDB != "" {
		return o.puppetDB
	}
	if env := os.Getenv("FLEETBOOK_PUPPETDB_URL"); env != "" {
		return env
	}
	return discover.DefaultPuppetDB
}

// WithSecretsKey sets the master key (kvstore.SecretsKeySize bytes) that opens the sensitive
// values of runs and seals data-store writes derived from them; retired keys only open what they
// sealed before a rotation. Coordinators need the same keys (coordinator.WithSecretsKey). Without
// it, values are read and stored in clear, which only tests should do.
func WithSecretsKey(key []byte, retired ...[]byte) Option {
	return func(o *options) error {
		keys, err := kvstore.NewKeyring(key, retired...)
		if err != nil {
			return fmt.Errorf("%w: secrets key: %v", ErrInvalidOption, err)
		}
		o.keys = keys
		return nil
	}
}

// WithMetrics makes the worker count in m the jobs it runs (WorkerJobsRunning, WorkerJobs) and
// each node's outcome and reply time in its rpc fan-outs. m must not be nil.
func WithMetrics(m *metrics.Metrics) Option {
	return func(o *options) error {
		if m == nil {
			return fmt.Errorf("%w: metrics must not be nil (leave WithMetrics out to count nothing)", ErrInvalidOption)
		}
		o.metrics = m
		return nil
	}
}
