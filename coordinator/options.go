package coordinator

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/trust"
)

// Option configures a Coordinator; it returns an error for a value it refuses outright, and New
// runs a validate step over all options afterwards.
type Option func(*options) error

type options struct {
	name      string
	log       *slog.Logger
	lease     time.Duration
	reconcile time.Duration
	maxRuns   int
	store     kvstore.Config
	rpcChunk  int
	// keepRuns is how long ended runs are kept; 0 keeps them for ever.
	keepRuns time.Duration
	// parse are the options every playbook is parsed with (plugin task types).
	parse []playbooks.ParseOption
	// policy decides who may do what; nil allows every request.
	policy *policy.Policy
	// requestWindow is how far a signed request's time may be from now.
	requestWindow time.Duration
	// keys seal sensitive values; nil stores them in clear (see WithSecretsKey).
	keys *kvstore.Keyring
	// signer signs the grants of rpc jobs and the result tokens of every job; nil signs nothing.
	signer *trust.Signer
	// now is the clock schedules are evaluated by.
	now func() time.Time
	// scheduleTick is the longest a coordinator waits between two evaluations of its schedules.
	scheduleTick time.Duration
	// metrics counts what the coordinator does; nil counts nothing.
	metrics *metrics.Metrics
}

func defaultOptions() options {
	host, _ := os.Hostname()
	return options{
		name:      fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8]),
		log:       slog.New(slog.DiscardHandler),
		lease:     30 * time.Second,
		reconcile: 5 * time.Second,
		maxRuns:   1000,
		rpcChunk:  1000,
		keepRuns:  DefaultKeepRuns,

		requestWindow: DefaultRequestWindow,
		now:           time.Now,
		scheduleTick:  time.Second,
	}
}

// validate checks the options together, after every Option ran. Each refusal wraps
// ErrInvalidOption and names the option.
func (o *options) validate() error {
	switch {
	case o.name == "":
		return fmt.Errorf("%w: coordinator name must not be empty", ErrInvalidOption)
	case o.log == nil:
		return fmt.Errorf("%w: logger must not be nil", ErrInvalidOption)
	case o.lease < 100*time.Millisecond:
		return fmt.Errorf("%w: lease %s is too short: heartbeats go every third of it", ErrInvalidOption, o.lease)
	case o.reconcile <= 0:
		return fmt.Errorf("%w: reconcile interval must be positive, got %s", ErrInvalidOption, o.reconcile)
	case o.rpcChunk < 1:
		return fmt.Errorf("%w: rpc chunk size must be at least 1, got %d", ErrInvalidOption, o.rpcChunk)
	case o.maxRuns < 1:
		return fmt.Errorf("%w: max runs must be at least 1, got %d", ErrInvalidOption, o.maxRuns)
	case o.keepRuns < 0:
		return fmt.Errorf("%w: keep-runs must not be negative, got %s", ErrInvalidOption, o.keepRuns)
	case o.now == nil:
		return fmt.Errorf("%w: clock must not be nil", ErrInvalidOption)
	case o.scheduleTick <= 0:
		return fmt.Errorf("%w: schedule tick must be positive, got %s", ErrInvalidOption, o.scheduleTick)
	case o.requestWindow <= 0:
		return fmt.Errorf("%w: request window must be positive, got %s", ErrInvalidOption, o.requestWindow)
	}
	return nil
}

// WithName sets the coordinator's identity, recorded as the owner of the runs it drives.
func WithName(name string) Option {
	return func(o *options) error { o.name = name; return nil }
}

// WithLogger sets the logger; it must not be nil. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.log = l; return nil }
}

// WithLease sets how long a run may go without a heartbeat from its coordinator before another
// coordinator takes it over (the RUNS consumer's AckWait). Default 30s.
func WithLease(d time.Duration) Option {
	return func(o *options) error { o.lease = d; return nil }
}

// WithReconcile sets how often a waiting step checks the streams for a result or a lost job that
// it was not told about (a result missed during a reconnect, say). Default 5s.
func WithReconcile(d time.Duration) Option {
	return func(o *options) error { o.reconcile = d; return nil }
}

// WithMaxRuns caps how many runs this coordinator drives at once. Default 1000.
func WithMaxRuns(n int) Option {
	return func(o *options) error { o.maxRuns = n; return nil }
}

// WithStore sets the shape of the streams and buckets the coordinator provisions.
func WithStore(cfg kvstore.Config) Option {
	return func(o *options) error { o.store = cfg; return nil }
}

// DefaultKeepRuns is how long a run is kept after it ended: as long as its events (the
// execution log, kvstore.Config.EventsMaxAge), so a report never outlives its log by default.
const DefaultKeepRuns = 30 * 24 * time.Hour

// WithKeepRuns sets how long ended runs are kept (record, idempotency key, events) before the
// coordinator deletes them; 0 keeps them for ever. Default DefaultKeepRuns.
func WithKeepRuns(d time.Duration) Option {
	return func(o *options) error { o.keepRuns = d; return nil }
}

// WithRPCChunk sets how many nodes one job of an rpc step without batch_size reaches: the step's
// targets are cut into jobs of this size that workers run in parallel. Default 1000.
func WithRPCChunk(n int) Option {
	return func(o *options) error { o.rpcChunk = n; return nil }
}

// WithSecretsKey sets the master key (kvstore.SecretsKeySize bytes) that seals the sensitive
// values of runs: each run's values are encrypted with a data key of their own, itself encrypted
// with key, and destroyed when the run ends. Retired keys only open what they sealed before a
// rotation, so runs started under the previous key can finish. Workers need the same keys
// (worker.WithSecretsKey). Without this option sensitive values are stored in clear, which only
// tests should do.
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

// WithPlugins lets playbooks use the plugin task types specs describes; workers with the same
// plugin directory run them.
func WithPlugins(specs map[string]playbooks.PluginSpec) Option {
	return func(o *options) error { o.parse = append(o.parse, playbooks.WithPlugins(specs)); return nil }
}

// WithPolicy makes the coordinator ask p about every API request, with the identity the
// request's signature proves (policy.Unsigned without one): whatever p does not allow is refused
// with protocol.CodeForbidden and audited. p must not be nil. Without this option every request
// is allowed (and still audited): the library's default, for tests and embedding; the fleetbook
// commands always pass a policy.
func WithPolicy(p *policy.Policy) Option {
	return func(o *options) error {
		if p == nil {
			return fmt.Errorf("policy must not be nil (leave WithPolicy out to allow every request)")
		}
		o.policy = p
		return nil
	}
}

// WithRequestWindow sets how far the time a request was signed at may be from this
// coordinator's clock, either way: a request outside it is refused as a replay. Within it, a
// replay needs a copy of the request, which only who can read API traffic has. Default
// DefaultRequestWindow.
func WithRequestWindow(d time.Duration) Option {
	return func(o *options) error { o.requestWindow = d; return nil }
}

// WithSigner signs what the coordinator publishes with kp, which must hold its seed (an nkeys
// key pair; its public key is what agents trust, agent.WithTrustedSigners): every rpc job
// carries a grant the agents verify before acting (a discover job that pings its nodes, an
// any-node grant for the built-in ping only), and every job a result token without which its
// result is refused, logged and not applied. Every coordinator of a deployment must be given the
// same key (the coordinator credential): the result-token key is derived from its seed, and a
// coordinator taking a run over must accept the results of jobs another one published. Without
// a signer nothing is signed and every result is applied.
func WithSigner(kp nkeys.KeyPair) Option {
	return func(o *options) error {
		s, err := trust.NewSigner(kp)
		if err != nil {
			return err
		}
		o.signer = s
		return nil
	}
}

// WithClock sets the clock schedules are evaluated by (time.Now by default): tests move it to
// cross a DST change or a catch-up window without waiting for it.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("clock must not be nil")
		}
		o.now = now
		return nil
	}
}

// WithScheduleTick sets the longest a coordinator waits between two evaluations of its
// schedules (1s by default); it also wakes for the next slot due and for every schedule change.
func WithScheduleTick(d time.Duration) Option {
	return func(o *options) error {
		o.scheduleTick = d
		return nil
	}
}

// WithMetrics makes the coordinator count runs submitted, started and finished, step durations
// and retries, schedule slots and lock waits in m, each once, when the write that records it is
// stored. m must not be nil.
func WithMetrics(m *metrics.Metrics) Option {
	return func(o *options) error {
		if m == nil {
			return fmt.Errorf("metrics must not be nil (leave WithMetrics out to count nothing)")
		}
		o.metrics = m
		return nil
	}
}
