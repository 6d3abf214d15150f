package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/worker"
)

func upCommand() *cobra.Command {
	var (
		dataDir, listen, syncMode, pprofAddr string
		httpAddr                             string
		plugins                              string
		workers                              int
		verbose                              bool
		fleet                                agentFlags
		keepRuns                             time.Duration
		sec                                  serverConfig
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run an embedded NATS server, a coordinator and a worker in the foreground",
		Long: `Run everything fleetbook needs on one machine: an embedded JetStream server keeping its
state in --data-dir and listening on --listen, a coordinator and a worker. Stop it with Ctrl-C;
runs in flight continue when it starts again.

Authentication is on: the first start makes a credential per role in DATA-DIR/auth (mode 0600)
and a nats context for the operator. Other fleetbook commands reach the server with
--context DATA-DIR/auth/context.json, or with --server URL and --data-dir DATA-DIR (or the
nats CLI's NATS_URL and NATS_CREDS). A --listen address other machines can reach needs TLS
(--tls-cert, --tls-key) or --insecure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pluginSet, err := loadPlugins(plugins)
			if err != nil {
				return err
			}
			stopPprof, err := startPprof(pprofAddr)
			if err != nil {
				return err
			}
			defer stopPprof()
			if fleet.fleet != "" && !cmd.Flags().Changed("state-dir") {
				fleet.stateDir = filepath.Join(dataDir, "nodes")
			}
			if sec.noAuth {
				warnNoAuth()
			}
			// The console serves HTTPS with the server's own certificate, when it has one.
			h := httpFlags{addr: httpAddr, tlsCert: sec.tlsCert, tlsKey: sec.tlsKey, insecure: sec.insecure}
			if _, err := h.check(); httpAddr != "" && err != nil {
				return err
			}
			cfg := sec
			cfg.dataDir, cfg.listen, cfg.syncAlways, cfg.verbose = dataDir, listen, syncMode == "always", verbose
			e, err := startEmbedded(cmd.Context(), cfg, logger(true), workers, pluginSet, &fleet, coordinator.WithKeepRuns(keepRuns))
			if err != nil {
				return err
			}
			defer e.stop()
			fmt.Fprintf(os.Stderr, "fleetbook up: NATS on %s, state in %s; Ctrl-C to stop\n", e.srv.ClientURL(), dataDir)
			if e.setup != nil {
				if err := announceCredentials(e, cfg); err != nil {
					return err
				}
			}
			if httpAddr != "" {
				if _, err := upConsole(cmd.Context(), e, &h); err != nil {
					return err
				}
			}
			return watchDataDir(cmd.Context(), e)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".fleetbook", "state directory")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4222", "NATS client address to listen on")
	cmd.Flags().StringVar(&syncMode, "sync", "default", "disk sync: default or always")
	cmd.Flags().BoolVar(&sec.noAuth, "no-auth", false, "serve without authentication (throw-away experiments only: anyone reaching the port can run commands on every worker and node)")
	cmd.Flags().BoolVar(&sec.insecure, "insecure", false, "allow --listen on an address other machines reach without TLS")
	cmd.Flags().StringVar(&sec.tlsCert, "tls-cert", "", "serve TLS with this certificate file")
	cmd.Flags().StringVar(&sec.tlsKey, "tls-key", "", "the key file of --tls-cert")
	cmd.Flags().StringVar(&sec.tlsCA, "tls-ca", "", "require client certificates signed by this CA file")
	cmd.Flags().StringVar(&sec.encryptionKey, "encryption-key", "", "file holding the JetStream encryption-at-rest key (default DATA-DIR/auth/jetstream.key, made with a new store)")
	cmd.Flags().IntVar(&workers, "workers", 4, "jobs the worker runs at once")
	keepRunsFlag(cmd, &keepRuns)
	pluginsFlag(cmd, &plugins)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also log the NATS server")
	cmd.Flags().StringVar(&fleet.fleet, "fleet", "", "also simulate the nodes of this fleet file (state in DATA-DIR/nodes)")
	cmd.Flags().StringVar(&fleet.agentsDir, "agents-dir", "", "agent definitions for --fleet (default the fleet file's agents_dir)")
	cmd.Flags().StringVar(&fleet.stateDir, "state-dir", "", "node state for --fleet (default DATA-DIR/nodes)")
	fleet.execTimeout, fleet.refresh, fleet.concurrency = 10*time.Second, 30*time.Second, 64
	pprofFlag(cmd, &pprofAddr)
	cmd.Flags().StringVar(&httpAddr, "http", "", "also serve the web console on this address, e.g. "+defaultConsoleAddr+" (off by default; prints its sign-in URL)")
	return cmd
}

// remoteFlags are what `fleetbook coordinator` and `fleetbook worker` share: the server they
// connect to, the service's identity and tuning, its plugins and its profiling address.
type remoteFlags struct {
	conn connFlags
	// secretsKey and retiredKeys are the files of the key sensitive inputs are sealed with, and
	// of keys being rotated out.
	secretsKey  string
	retiredKeys []string
	name        string
	service     serviceFlags
	plugins     string
	pprofAddr   string
}

// service is a coordinator or a worker, built and ready to run.
type service interface {
	Run(ctx context.Context) error
}

func coordinatorCommand() *cobra.Command {
	var (
		r          remoteFlags
		keepRuns   time.Duration
		policyPath string
	)
	cmd := &cobra.Command{
		Use:   "coordinator",
		Short: "Run a coordinator against an existing NATS server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.serve(cmd, "coordinator", func(nc *nats.Conn, log *slog.Logger, ps pluginSet) (service, error) {
				o := append(ps.coordinator(), coordinator.WithLogger(log), coordinator.WithLease(r.service.lease),
					coordinator.WithStore(r.service.store()), coordinator.WithKeepRuns(keepRuns))
				if r.name != "" {
					o = append(o, coordinator.WithName(r.name))
				}
				sec, err := r.security(policyPath)
				if err != nil {
					return nil, err
				}
				return coordinator.New(nc, append(o, sec.coordinator...)...)
			})
		},
	}
	r.register(cmd, "coordinator")
	keepRunsFlag(cmd, &keepRuns)
	cmd.Flags().StringVar(&policyPath, "policy", "", "policy file: who may submit, cancel, prune, read and audit (default DATA-DIR/auth/policy.yaml; required unless --no-auth)")
	return cmd
}

func workerCommand() *cobra.Command {
	var (
		r           remoteFlags
		pool        string
		concurrency int
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker against an existing NATS server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.serve(cmd, "worker", func(nc *nats.Conn, log *slog.Logger, ps pluginSet) (service, error) {
				sec, err := r.security("")
				if err != nil {
					return nil, err
				}
				o := append(ps.worker(), worker.WithLogger(log), worker.WithPool(pool), worker.WithConcurrency(concurrency),
					worker.WithAckWait(r.service.lease), worker.WithStore(r.service.awaitStore(!r.conn.noAuth)))
				o = append(o, sec.worker...)
				if r.name != "" {
					o = append(o, worker.WithName(r.name))
				}
				return worker.New(nc, o...)
			})
		},
	}
	r.register(cmd, "worker")
	cmd.Flags().StringVar(&pool, "pool", "default", "worker pool to take jobs from")
	cmd.Flags().IntVar(&concurrency, "concurrency", 4, "jobs run at once")
	return cmd
}

// serve loads the plugins, starts pprof, connects, builds the service (a refusal there exits 2)
// and runs it until the command is stopped, retrying a start-up that fails for a transient
// reason.
func (r *remoteFlags) serve(cmd *cobra.Command, what string,
	build func(*nats.Conn, *slog.Logger, pluginSet) (service, error)) error {
	pluginSet, err := loadPlugins(r.plugins)
	if err != nil {
		return err
	}
	stopPprof, err := startPprof(r.pprofAddr)
	if err != nil {
		return err
	}
	defer stopPprof()
	nc, err := r.conn.dial("fleetbook " + what)
	if err != nil {
		return exitf(exitInfra, "connect to NATS: %v", err)
	}
	defer nc.Close()
	log := logger(true)
	svc, err := build(nc, log, pluginSet)
	if err != nil {
		return exitf(exitRefused, "%v", err)
	}
	// After Ctrl-C or SIGTERM an error is the stop interrupting start-up: a clean exit.
	if err := runRetrying(cmd.Context(), log, what, svc.Run); err != nil && cmd.Context().Err() == nil {
		return exitf(exitInfra, "%v", err)
	}
	return nil
}

// register adds the flags of a service named what ("coordinator" or "worker").
func (r *remoteFlags) register(cmd *cobra.Command, what string) {
	r.conn.registerRemote(cmd, auth.Role(what))
	cmd.Flags().StringVar(&r.name, "name", "", what+" identity (default host-pid-random)")
	r.service.register(cmd)
	cmd.Flags().StringVar(&r.secretsKey, "secrets-key", "", "file of the key sensitive inputs are sealed with, shared by coordinators and workers (default DATA-DIR/auth/secrets.key; required unless --no-auth)")
	cmd.Flags().StringArrayVar(&r.retiredKeys, "retired-secrets-key", nil, "file of a key being rotated out: still opens what it sealed (repeatable)")
	pluginsFlag(cmd, &r.plugins)
	pprofFlag(cmd, &r.pprofAddr)
}

// announceCredentials writes the operator's nats context next to the credentials and says how to
// connect.
func announceCredentials(e *embedded, cfg serverConfig) error {
	creds := e.setup.CredsPath(auth.RoleOperator)
	path := filepath.Join(e.dir.path, authDir, contextFile)
	url := localURL(e.srv.ClientURL())
	// A client of this machine verifies the server with the served certificate itself.
	if err := writeContext(path, url, creds, cfg.tlsCert); err != nil {
		return exitf(exitInfra, "write %s: %v", path, err)
	}
	fmt.Fprintf(os.Stderr, "fleetbook up: authentication on; operator credentials in %s\n", creds)
	fmt.Fprintf(os.Stderr, "fleetbook up: connect with --context %s (or --server %s --data-dir %s)\n", path, url, cfg.dataDir)
	return nil
}

// localURL is url with an unspecified host (0.0.0.0, ::) replaced by the loopback address, which
// a client on this machine can dial.
func localURL(url string) string {
	for _, any := range []string{"://0.0.0.0:", "://[::]:"} {
		if strings.Contains(url, any) {
			return strings.Replace(url, any, "://127.0.0.1:", 1)
		}
	}
	return url
}

// watchDataDir serves until ctx ends, or until the data directory is lost under the server: a
// store deleted or replaced while running would accept runs and lose them, so up stops and
// exits non-zero instead.
func watchDataDir(ctx context.Context, e *embedded) error {
	tick := time.NewTicker(dataDirCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := e.dir.lost(); err != nil {
				return exitf(exitInfra, "%v: stopped, so no run is accepted and then lost; restore it or start again with a new data dir", err)
			}
		}
	}
}

// dataDirCheck is how often up checks that its data directory is still there.
const dataDirCheck = 2 * time.Second
