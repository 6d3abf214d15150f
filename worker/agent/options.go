package agent

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
)

// Option configures a Server.
type Option func(*options) error

type options struct {
	agentsDir     string
	defs          map[string]*Definition
	stateRoot     string
	log           *slog.Logger
	execTimeout   time.Duration
	concurrency   int
	dedupeSize    int
	dedupeTTL     time.Duration
	register      bool
	store         kvstore.Config
	refresh       time.Duration
	registerBurst int
	// trusted are the coordinator public keys whose grants requests must carry; none accepts
	// unsigned requests.
	trusted []string
}

func defaultOptions() options {
	return options{
		stateRoot:     filepath.Join(os.TempDir(), "fleetbook-agents"),
		log:           slog.New(slog.DiscardHandler),
		execTimeout:   10 * time.Second,
		concurrency:   64,
		dedupeTTL:     10 * time.Minute,
		register:      true,
		refresh:       30 * time.Second,
		registerBurst: 256,
	}
}

func (o *options) validate() error {
	switch {
	case o.execTimeout <= 0:
		return fmt.Errorf("%w: exec timeout must be positive, got %s", ErrInvalidOption, o.execTimeout)
	case o.concurrency < 1:
		return fmt.Errorf("%w: concurrency must be at least 1, got %d", ErrInvalidOption, o.concurrency)
	case o.dedupeSize < 0 || o.dedupeTTL <= 0:
		return fmt.Errorf("%w: dedupe size must not be negative and its ttl must be positive", ErrInvalidOption)
	case o.refresh <= 0:
		return fmt.Errorf("%w: refresh interval must be positive, got %s", ErrInvalidOption, o.refresh)
	case o.stateRoot == "":
		return fmt.Errorf("%w: state directory must not be empty", ErrInvalidOption)
	case o.log == nil:
		return fmt.Errorf("%w: logger must not be nil", ErrInvalidOption)
	}
	return nil
}

// WithAgentsDir loads the agent definitions (and binds their executables) from dir; see
// LoadDefinitions. Without it (and without WithDefinitions) nodes run only rpcutil.
func WithAgentsDir(dir string) Option {
	return func(o *options) error { o.agentsDir = dir; return nil }
}

// WithDefinitions uses already loaded definitions (from LoadDefinitions), so a fleet of many
// Servers reads the directory once.
func WithDefinitions(defs map[string]*Definition) Option {
	return func(o *options) error { o.defs = defs; return nil }
}

// WithStateDir sets the state root: each node's agents keep their state in root/identity.
// Default $TMPDIR/fleetbook-agents.
func WithStateDir(root string) Option {
	return func(o *options) error { o.stateRoot = root; return nil }
}

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.log = l; return nil }
}

// WithExecTimeout bounds one run of an external agent executable; on expiry its whole process
// group is killed and the reply says it timed out. Default 10s.
func WithExecTimeout(d time.Duration) Option {
	return func(o *options) error { o.execTimeout = d; return nil }
}

// WithConcurrency bounds how many external executables run at once across every node of the
// server; further requests wait their turn. Default 64.
func WithConcurrency(n int) Option {
	return func(o *options) error { o.concurrency = n; return nil }
}

// WithDedupe sets how many recent request ids are remembered (0: four per node, at least 1024)
// and for how long (default 10 minutes). A request repeated within both bounds gets the first
// reply again without acting. Signed requests (WithTrustedSigners) are remembered longer, until
// their grant expires, up to max(16384, 16 per node) of them: past that, new signed requests are
// refused until old grants expire.
func WithDedupe(entries int, ttl time.Duration) Option {
	return func(o *options) error { o.dedupeSize, o.dedupeTTL = entries, ttl; return nil }
}

// WithTrustedSigners makes the server act only on requests that carry a grant signed by one of
// pubkeys (nkeys public keys of the coordinators, trust.Signer.PublicKey) and that match it:
// agent, action, arguments, request id, this node among its targets, not expired. Every other
// request is answered with an error naming the refusal and logged (identity, reason, request id,
// signer); nothing runs. Without this option unsigned requests are accepted. Signed request ids
// are remembered until their grant expires (see WithDedupe).
func WithTrustedSigners(pubkeys ...string) Option {
	return func(o *options) error {
		if len(pubkeys) == 0 {
			return fmt.Errorf("trusted signers: at least one public key is required")
		}
		o.trusted = append(o.trusted, pubkeys...)
		return nil
	}
}

// WithoutRegistration serves RPC without registering in the node registry (tests, or a fleet
// that must stay invisible to discovery).
func WithoutRegistration() Option {
	return func(o *options) error { o.register = false; return nil }
}

// WithStore is the configuration the node registry bucket is created with when no coordinator
// has provisioned it yet (its NodesTTL and replicas).
func WithStore(cfg kvstore.Config) Option {
	return func(o *options) error { o.store = cfg; return nil }
}

// WithRefresh sets how often every node's registration is refreshed; it is lowered to a third
// of the registry's TTL when that is shorter. Default 30s.
func WithRefresh(d time.Duration) Option {
	return func(o *options) error { o.refresh = d; return nil }
}
