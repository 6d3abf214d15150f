package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/worker"
)

// apiStartTimeout bounds how long an embedded session waits for its coordinator to serve the API.
const apiStartTimeout = 30 * time.Second

// connFlags says where a command finds NATS: a server URL, a nats CLI context, or an embedded
// server with its state in a data directory.
type connFlags struct {
	server   string
	context  string
	embedded bool
	dataDir  string
	sync     string
	verbose  bool
	// plugins is the plugin directory of the embedded worker (run --plugins).
	plugins string
	// fleet is the simulated fleet an embedded session also runs (run --fleet).
	fleet agentFlags
	// cred is how the command authenticates to a remote server.
	cred credFlags
	// role is whose credentials in --data-dir the command uses when given none: the operator's
	// for client commands, the service's own for coordinators, workers and agents.
	role auth.Role
	// noAuth runs an embedded session without authentication, or a service without enforcing
	// fleetbook's own checks (policy, signatures) against a server that has none.
	noAuth bool
	// key is the signing key of the connection dial made (nil when its credentials have none).
	key nkeys.KeyPair
	// readOnly marks a command that only reads (runs list, show, logs, audit): its embedded
	// session serves the store's reading endpoints and starts no coordinator or worker, so a
	// look never resumes, re-runs or changes anything.
	readOnly bool
}

func (f *connFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.server, "server", "s", "", "NATS server URL(s) (default $NATS_URL, else the selected nats context; without any, give --embedded)")
	cmd.Flags().StringVar(&f.context, "context", os.Getenv("NATS_CONTEXT"), "nats CLI context (a name, or a context file such as DATA-DIR/auth/context.json) [$NATS_CONTEXT]")
	cmd.Flags().BoolVar(&f.embedded, "embedded", false, "start an in-process NATS server, coordinator and worker")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", ".fleetbook", "state directory of the embedded server")
	cmd.Flags().StringVar(&f.sync, "sync", "default", "embedded server disk sync: default (every 2 minutes; survives process crashes) or always (survives power loss, slower)")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "log what the embedded coordinator and worker do")
	cmd.Flags().BoolVar(&f.noAuth, "no-auth", false, "with --embedded: no authentication (throw-away experiments only: anyone reaching the server can act)")
	f.cred.register(cmd)
	f.role = auth.RoleOperator
}

// registerRemote adds only --server and --context, for a long-running process that always
// connects to an existing server (coordinator, worker, agent).
func (f *connFlags) registerRemote(cmd *cobra.Command, role auth.Role) {
	cmd.Flags().StringVarP(&f.server, "server", "s", "", "NATS server URL(s) (default $NATS_URL)")
	cmd.Flags().StringVar(&f.context, "context", os.Getenv("NATS_CONTEXT"), "nats CLI context (a name, or a context file) to connect with [$NATS_CONTEXT]")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", ".fleetbook", "with no credentials given, use the "+string(role)+" credentials of this data dir's `fleetbook up`")
	cmd.Flags().BoolVar(&f.noAuth, "no-auth", false, "do not enforce fleetbook's own checks (for a server without authentication: experiments only)")
	f.cred.register(cmd)
	f.role = role
}

// registerFleet adds --fleet, --agents-dir and --state-dir: an embedded session then also runs
// the fleet file's simulated nodes (and its receiver), registered before the command goes on.
func (f *connFlags) registerFleet(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.fleet.fleet, "fleet", "", "with --embedded: also simulate the nodes of this fleet file (state in DATA-DIR/nodes)")
	cmd.Flags().StringVar(&f.fleet.agentsDir, "agents-dir", "", "agent definitions for --fleet (default the fleet file's agents_dir)")
	cmd.Flags().StringVar(&f.fleet.stateDir, "state-dir", "", "node state for --fleet (default DATA-DIR/nodes)")
	f.fleet.execTimeout, f.fleet.refresh, f.fleet.concurrency = 10*time.Second, 30*time.Second, 64
}

// errBadContext is the error of a --context (or selected context) that cannot be loaded.
var errBadContext = errors.New("cannot load it")

// session is a connection ready for API calls, and whatever was started to provide it.
type session struct {
	nc     *nats.Conn
	client *coordinator.Client
	stop   func()
}

// connect opens a session: to the server of --server, --context, $NATS_URL or the selected nats
// context, or, only when --embedded says so, to a server in this process (with a coordinator and
// a worker, or, for a command that only reads, the store's reading endpoints alone). Without any
// of them it refuses (exit 3): a playbook never silently runs on the operator's own machine.
// stop shuts the session down in order.
func (f *connFlags) connect(ctx context.Context, name string) (*session, error) {
	remote := f.server != "" || f.context != "" || (!f.embedded && (os.Getenv("NATS_URL") != "" || natscontext.SelectedContext() != ""))
	if remote && f.embedded {
		return nil, exitf(exitRefused, "--embedded cannot be combined with --server or --context")
	}
	if !remote && !f.embedded {
		return nil, exitf(exitInfra, "no NATS server given: point at one with --server URL, --context NAME, $NATS_URL or a selected nats context (`nats context select`), or run everything in this process with --embedded [--data-dir DIR]")
	}
	if !remote && f.readOnly {
		return f.readerSession(ctx, name)
	}
	if !remote {
		return f.embeddedSession(ctx, name)
	}
	if f.fleet.fleet != "" {
		return nil, exitf(exitRefused, "--fleet runs a simulated fleet in an embedded session only; against a server, run `fleetbook agent --fleet FILE --server URL`")
	}
	nc, err := f.dial(name, nats.ErrorHandler(refusedByServer))
	if errors.Is(err, errBadContext) {
		return nil, exitf(exitRefused, "%v (`nats context ls` lists the contexts; a context file is a path)", err)
	}
	if err != nil {
		return nil, exitf(exitInfra, "connect to NATS: %v", err)
	}
	client, err := f.newClient(nc)
	if err != nil {
		nc.Close()
		return nil, exitf(exitInfra, "%v", err)
	}
	return &session{nc: nc, client: client, stop: nc.Close}, nil
}

// dial connects to the configured remote server: with --context (or the selected nats context
// when no server is given) the context's URL, credentials and TLS, otherwise --server or
// $NATS_URL with the credential flags, or else the credentials of f.role in --data-dir. It
// reconnects forever once connected, so a restarting server does not end a long run's follow.
// f.key is then the key the connection's requests are signed with.
func (f *connFlags) dial(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}, extra...)
	url := f.server
	if url == "" {
		url = os.Getenv("NATS_URL")
	}
	if f.context != "" || (url == "" && natscontext.SelectedContext() != "") {
		nctx, copts, key, err := contextOptions(f.context)
		if err != nil {
			return nil, fmt.Errorf("nats context %q: %w: %w", f.context, errBadContext, err)
		}
		if url == "" {
			url = nctx.ServerURL()
		}
		f.key, opts = key, append(opts, copts...)
	}
	return f.withCreds(url, opts)
}

// withCreds connects to url with opts and the credential flags (which win over a context's), or,
// when neither gives credentials, with those of f.role in --data-dir.
func (f *connFlags) withCreds(url string, opts []nats.Option) (*nats.Conn, error) {
	cred := f.cred
	if !cred.given() && f.key == nil && f.dataDir != "" {
		cred.creds = roleCreds(f.dataDir, f.role)
	}
	copts, key, err := cred.options()
	if err != nil {
		return nil, err
	}
	if key != nil {
		f.key = key
	}
	return nats.Connect(url, append(opts, copts...)...)
}

// newClient is an API client on nc that signs its requests with f.key, when the credentials
// carried one: the coordinator then knows who asks (docs/security.md, "Who did what").
func (f *connFlags) newClient(nc *nats.Conn) (*coordinator.Client, error) {
	if f.key == nil {
		return coordinator.NewClient(nc)
	}
	return coordinator.NewClient(nc, coordinator.WithIdentityKey(f.key))
}

func (f *connFlags) embeddedSession(ctx context.Context, name string) (*session, error) {
	plugins, err := loadPlugins(f.plugins)
	if err != nil {
		return nil, err
	}
	if f.fleet.fleet != "" && f.fleet.stateDir == "" {
		f.fleet.stateDir = filepath.Join(f.dataDir, "nodes")
	}
	// The services outlive the command's context: the session's stop ends them, in order.
	if f.noAuth {
		warnNoAuth()
	}
	e, err := startEmbedded(context.WithoutCancel(ctx), serverConfig{dataDir: f.dataDir, syncAlways: f.sync == "always", verbose: f.verbose, noAuth: f.noAuth},
		logger(f.verbose), 4, plugins, &f.fleet, nil)
	if err != nil {
		return nil, err
	}
	nc, err := e.dial(name, f.role)
	if err != nil {
		e.stop()
		return nil, exitf(exitInfra, "%v", err)
	}
	if e.setup != nil {
		if f.key, err = auth.UserKey(e.setup.CredsPath(f.role)); err != nil {
			e.stop()
			return nil, exitf(exitInfra, "%v", err)
		}
	}
	client, err := f.newClient(nc)
	if err != nil {
		e.stop()
		return nil, exitf(exitInfra, "%v", err)
	}
	if err := awaitAPI(ctx, client); err != nil {
		e.stop()
		return nil, err
	}
	return &session{nc: nc, client: client, stop: e.stop}, nil
}

// readerSession serves the reading endpoints of the store in --data-dir to this command alone:
// the embedded server starts without a coordinator or worker (so an interrupted run stays as it
// is), and nothing is provisioned or created. A data dir `fleetbook up` serves is read through
// that server instead.
func (f *connFlags) readerSession(ctx context.Context, name string) (*session, error) {
	if _, err := os.Stat(filepath.Join(f.dataDir, "jetstream")); err != nil {
		return nil, exitf(exitRefused, "no fleetbook state in %s (nothing has run there): give the --data-dir of your runs, or point at a server with --server or --context", f.dataDir)
	}
	if f.noAuth {
		warnNoAuth()
	}
	srv, dir, setup, err := startServer(serverConfig{dataDir: f.dataDir, verbose: f.verbose, noAuth: f.noAuth})
	if errors.Is(err, errDataDirInUse) {
		return nil, exitf(exitInfra, "%v\n(if `fleetbook up` serves it, ask that server: --context %s)", err, filepath.Join(f.dataDir, authDir, "context.json"))
	}
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &embedded{srv: srv, dir: dir, setup: setup, cancel: cancel}
	fail := func(err error) (*session, error) {
		e.stop()
		return nil, err
	}
	cnc, err := e.dial("fleetbook reader", auth.RoleCoordinator)
	if err != nil {
		return fail(exitf(exitInfra, "%v", err))
	}
	var opts []coordinator.Option
	if setup != nil {
		sec, err := embeddedSecurity(setup)
		if err != nil {
			return fail(exitf(exitInfra, "%v", err))
		}
		opts = sec.coordinator
	}
	coord, err := coordinator.New(cnc, append(opts, coordinator.WithLogger(logger(f.verbose).With("component", "reader")))...)
	if err != nil {
		return fail(exitf(exitInfra, "%v", err))
	}
	served := make(chan error, 2)
	e.wg.Go(func() { served <- coord.ServeReadOnly(sctx, func() { served <- nil }) })
	if err := <-served; err != nil {
		return fail(exitf(exitInfra, "read the store in %s: %v", f.dataDir, err))
	}
	nc, err := e.dial(name, f.role)
	if err != nil {
		return fail(exitf(exitInfra, "%v", err))
	}
	if setup != nil {
		if f.key, err = auth.UserKey(setup.CredsPath(f.role)); err != nil {
			return fail(exitf(exitInfra, "%v", err))
		}
	}
	client, err := f.newClient(nc)
	if err != nil {
		return fail(exitf(exitInfra, "%v", err))
	}
	return &session{nc: nc, client: client, stop: e.stop}, nil
}

// awaitAPI waits until the in-process coordinator serves the API: without it, a command's
// first request (runs list, say) would find nobody answering while the coordinator still starts.
func awaitAPI(ctx context.Context, client *coordinator.Client) error {
	ctx, cancel := context.WithTimeout(ctx, apiStartTimeout)
	defer cancel()
	for {
		_, err := client.List(ctx, 1)
		if !errors.Is(err, coordinator.ErrNoCoordinator) {
			return nil // answered; any other error is the command's to report
		}
		select {
		case <-ctx.Done():
			return exitf(exitInfra, "the embedded coordinator did not start within %s", apiStartTimeout)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// startServices starts one coordinator and one worker, each on its own connection, until ctx ends.
// coordOpts go to the coordinator.
// With a setup (authentication on) they run as the coordinator and worker roles do: the worker
// waits for the coordinator to provision.
func startServices(ctx context.Context, wg *sync.WaitGroup, dial dialFunc, setup *auth.Setup, log *slog.Logger, concurrency int, plugins pluginSet,
	obs *metricsFlags, coordOpts ...coordinator.Option) error {
	secured := setup != nil
	cnc, err := dial("fleetbook coordinator", auth.RoleCoordinator)
	if err != nil {
		return err
	}
	if err := obs.attach(cnc); err != nil {
		return err
	}
	coordOpts = append(coordOpts, coordinator.WithLogger(log.With("component", "coordinator")))
	coordOpts = append(coordOpts, obs.coordinator()...)
	workOpts := obs.worker()
	if secured {
		sec, err := embeddedSecurity(setup)
		if err != nil {
			return err
		}
		coordOpts, workOpts = append(coordOpts, sec.coordinator...), append(workOpts, sec.worker...)
	}
	coord, err := coordinator.New(cnc, append(plugins.coordinator(), coordOpts...)...)
	if err != nil {
		return err
	}
	wnc, err := dial("fleetbook worker", auth.RoleWorker)
	if err != nil {
		return err
	}
	// Both provision the streams and buckets, so neither depends on which starts first.
	wrk, err := worker.New(wnc, append([]worker.Option{worker.WithConcurrency(concurrency), worker.WithStore(kvstore.Config{Await: secured}),
		worker.WithLogger(log.With("component", "worker"))}, append(workOpts, plugins.worker()...)...)...)
	if err != nil {
		return err
	}
	obs.readyWith(coord, wrk)
	// An error after ctx ended is the shutdown interrupting start-up, not a failure.
	wg.Go(func() {
		if err := coord.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("coordinator stopped", "error", err)
		}
	})
	wg.Go(func() {
		if err := wrk.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("worker stopped", "error", err)
		}
	})
	return nil
}

// logger logs to stderr at info when verbose, and only errors otherwise.
func logger(verbose bool) *slog.Logger {
	level := slog.LevelError
	if verbose {
		level = slog.LevelInfo
	}
	return leveled(level)
}

// leveled logs to stderr from level up (--log-level overrides it) in the --log-format.
func leveled(level slog.Level) *slog.Logger {
	return newLogger(os.Stderr, level)
}

// warnNoAuth says loudly what --no-auth means.
func warnNoAuth() {
	fmt.Fprintln(os.Stderr, "fleetbook: WARNING: --no-auth: authentication is OFF; anyone who reaches this server can run commands on every worker and node. Use it for throw-away experiments only.")
}

// refusedByServer ends a client command the server refused something: the permissions of its
// credentials do not allow the request, so waiting for an answer that cannot come would only
// turn a clear refusal into a timeout. Nothing was done; the exit code is exitRefused.
func refusedByServer(_ *nats.Conn, _ *nats.Subscription, err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		fmt.Fprintf(os.Stderr, "fleetbook: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "fleetbook: refused by the server: %v: these credentials' role may not do this (docs/security.md lists what each role may do)\n", err)
	os.Exit(exitRefused)
}
