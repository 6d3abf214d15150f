package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/worker"
)

func upCommand() *cobra.Command {
	var (
		dataDir, listen, syncMode, pprofAddr string
		plugins                              string
		workers                              int
		verbose                              bool
		fleet                                agentFlags
		keepRuns                             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run an embedded NATS server, a coordinator and a worker in the foreground",
		Long: `Run everything fleetbook needs on one machine: an embedded JetStream server keeping its
state in --data-dir and listening on --listen, a coordinator and a worker. Other fleetbook
commands reach it with --server nats://HOST:PORT. Stop it with Ctrl-C; runs in flight continue
when it starts again.`,
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
			srv, err := startServer(serverConfig{dataDir: dataDir, listen: listen, syncAlways: syncMode == "always", verbose: verbose})
			if err != nil {
				return err
			}
			defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
			log := logger(true)
			var wg sync.WaitGroup
			var conns []*nats.Conn
			defer func() {
				for _, nc := range conns {
					nc.Close()
				}
			}()
			dial := func(name string) (*nats.Conn, error) {
				nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name(name))
				if err == nil {
					conns = append(conns, nc)
				}
				return nc, err
			}
			if err := startServices(cmd.Context(), &wg, dial, log, workers, pluginSet, coordinator.WithKeepRuns(keepRuns)); err != nil {
				return exitf(exitInfra, "%v", err)
			}
			if fleet.fleet != "" {
				if !cmd.Flags().Changed("state-dir") {
					fleet.stateDir = filepath.Join(dataDir, "nodes")
				}
				if err := startAgents(cmd.Context(), &wg, dial, log, &fleet); err != nil {
					return agentExit("--fleet", err)
				}
			}
			fmt.Fprintf(os.Stderr, "fleetbook up: NATS on %s, state in %s; Ctrl-C to stop\n", srv.ClientURL(), dataDir)
			<-cmd.Context().Done()
			wg.Wait()
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".fleetbook", "state directory")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4222", "NATS client address to listen on")
	cmd.Flags().StringVar(&syncMode, "sync", "default", "disk sync: default or always")
	cmd.Flags().IntVar(&workers, "workers", 4, "jobs the worker runs at once")
	keepRunsFlag(cmd, &keepRuns)
	pluginsFlag(cmd, &plugins)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also log the NATS server")
	cmd.Flags().StringVar(&fleet.fleet, "fleet", "", "also simulate the nodes of this fleet file (state in DATA-DIR/nodes)")
	cmd.Flags().StringVar(&fleet.agentsDir, "agents-dir", "", "agent definitions for --fleet (default the fleet file's agents_dir)")
	cmd.Flags().StringVar(&fleet.stateDir, "state-dir", "", "node state for --fleet (default DATA-DIR/nodes)")
	fleet.execTimeout, fleet.refresh, fleet.concurrency = 10*time.Second, 30*time.Second, 64
	pprofFlag(cmd, &pprofAddr)
	return cmd
}

// remoteFlags connect a long-running service to an existing server.
type remoteFlags struct {
	conn connFlags
}

func coordinatorCommand() *cobra.Command {
	var (
		r                        remoteFlags
		name, pprofAddr, plugins string
		opts                     serviceFlags
		keepRuns                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "coordinator",
		Short: "Run a coordinator against an existing NATS server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.serve(cmd, "coordinator", plugins, pprofAddr, func(nc *nats.Conn, log *slog.Logger, ps pluginSet) (func(context.Context) error, error) {
				o := []coordinator.Option{coordinator.WithLogger(log), coordinator.WithLease(opts.lease),
					coordinator.WithStore(opts.store()), coordinator.WithKeepRuns(keepRuns)}
				o = append(o, ps.coordinator()...)
				if name != "" {
					o = append(o, coordinator.WithName(name))
				}
				c, err := coordinator.New(nc, o...)
				if err != nil {
					return nil, err
				}
				return c.Run, nil
			})
		},
	}
	r.register(cmd)
	opts.register(cmd)
	cmd.Flags().StringVar(&name, "name", "", "coordinator identity (default host-pid-random)")
	keepRunsFlag(cmd, &keepRuns)
	pluginsFlag(cmd, &plugins)
	pprofFlag(cmd, &pprofAddr)
	return cmd
}

func workerCommand() *cobra.Command {
	var (
		r                              remoteFlags
		name, pool, pprofAddr, plugins string
		concurrency                    int
		opts                           serviceFlags
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker against an existing NATS server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.serve(cmd, "worker", plugins, pprofAddr, func(nc *nats.Conn, log *slog.Logger, ps pluginSet) (func(context.Context) error, error) {
				o := []worker.Option{worker.WithLogger(log), worker.WithPool(pool), worker.WithConcurrency(concurrency),
					worker.WithAckWait(opts.lease), worker.WithStore(opts.store())}
				o = append(o, ps.worker()...)
				if name != "" {
					o = append(o, worker.WithName(name))
				}
				w, err := worker.New(nc, o...)
				if err != nil {
					return nil, err
				}
				return w.Run, nil
			})
		},
	}
	r.register(cmd)
	opts.register(cmd)
	cmd.Flags().StringVar(&name, "name", "", "worker identity (default host-pid-random)")
	cmd.Flags().StringVar(&pool, "pool", "default", "worker pool to take jobs from")
	cmd.Flags().IntVar(&concurrency, "concurrency", 4, "jobs run at once")
	pluginsFlag(cmd, &plugins)
	pprofFlag(cmd, &pprofAddr)
	return cmd
}

// serve is what `fleetbook coordinator` and `fleetbook worker` share: it loads the plugins,
// starts pprof, connects, builds the service (a refusal there exits 2) and runs it until the
// command is stopped, retrying a start-up that fails for a transient reason.
func (r *remoteFlags) serve(cmd *cobra.Command, what, plugins, pprofAddr string,
	build func(*nats.Conn, *slog.Logger, pluginSet) (func(context.Context) error, error)) error {
	pluginSet, err := loadPlugins(plugins)
	if err != nil {
		return err
	}
	stopPprof, err := startPprof(pprofAddr)
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
	run, err := build(nc, log, pluginSet)
	if err != nil {
		return exitf(exitRefused, "%v", err)
	}
	// After Ctrl-C or SIGTERM an error is the stop interrupting start-up: a clean exit.
	if err := runRetrying(cmd.Context(), log, what, run); err != nil && cmd.Context().Err() == nil {
		return exitf(exitInfra, "%v", err)
	}
	return nil
}

func (r *remoteFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&r.conn.server, "server", "s", "", "NATS server URL(s) (default $NATS_URL)")
	cmd.Flags().StringVar(&r.conn.context, "context", "", "nats CLI context to connect with")
}
