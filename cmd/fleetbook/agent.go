package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// agentFlags describe the node(s) an agent process serves.
type agentFlags struct {
	identity, facts, classes string
	fleet                    string
	agentsDir, stateDir      string
	execTimeout, refresh     time.Duration
	concurrency              int
	// await makes the agents wait for a coordinator to provision the registry: their role may
	// not create buckets.
	await bool
	// trust are the public keys of the coordinators whose signed requests the agents act on;
	// empty accepts unsigned requests (--no-auth only).
	trust []string
}

func (f *agentFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.identity, "identity", "", "node identity (default the host name)")
	cmd.Flags().StringVar(&f.facts, "facts", "", "facts file (YAML or JSON mapping)")
	cmd.Flags().StringVar(&f.classes, "classes", "", "classes file (one class per line)")
	cmd.Flags().StringVar(&f.fleet, "fleet", "", "fleet file: simulate every node it lists in this process")
	cmd.Flags().StringVar(&f.agentsDir, "agents-dir", "", "agent definitions and executables (default the fleet file's agents_dir)")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", ".fleetbook/nodes", "agents keep each node's state in DIR/IDENTITY")
	cmd.Flags().DurationVar(&f.execTimeout, "exec-timeout", 10*time.Second, "longest run of an agent executable")
	cmd.Flags().DurationVar(&f.refresh, "refresh", 30*time.Second, "how often registrations are refreshed (at most a third of the registry TTL)")
	cmd.Flags().IntVar(&f.concurrency, "concurrency", 64, "agent executables run at once")
	cmd.Flags().StringArrayVar(&f.trust, "trust", nil, "public key of a coordinator whose signed requests the node acts on (repeatable; `fleetbook auth show` prints it; default the data dir's coordinator)")
}

// resolveTrust settles whose signatures the agent verifies: --trust, or the coordinator of the
// data dir; with neither it refuses to start, since an agent acting on unsigned requests obeys
// anyone who can publish on its subject. --no-auth accepts unsigned requests.
func (f *agentFlags) resolveTrust(conn *connFlags) error {
	if conn.noAuth {
		f.trust = nil
		return nil
	}
	if len(f.trust) > 0 {
		return nil
	}
	if creds := roleCreds(conn.dataDir, auth.RoleCoordinator); creds != "" {
		kp, err := auth.UserKey(creds)
		if err != nil {
			return exitf(exitRefused, "--trust: %v", err)
		}
		pub, _ := kp.PublicKey()
		f.trust = []string{pub}
		return nil
	}
	return exitf(exitRefused, "--trust KEY is required: the node acts only on requests a trusted coordinator signed (`fleetbook auth show` prints its key), or say --no-auth")
}

// nodes reads the fleet file, or describes the single node of the flags. The fleet's receiver
// section, if any, comes back too.
func (f *agentFlags) nodes() ([]agent.Node, string, *agent.ReceiverConfig, error) {
	if f.fleet != "" {
		if f.identity != "" || f.facts != "" || f.classes != "" {
			return nil, "", nil, fmt.Errorf("--fleet cannot be combined with --identity, --facts or --classes")
		}
		fl, err := agent.LoadFleet(f.fleet)
		if err != nil {
			return nil, "", nil, err
		}
		dir := f.agentsDir
		if dir == "" {
			dir = fl.AgentsDir
		}
		return fl.Nodes, dir, fl.Receiver, nil
	}
	n := agent.Node{Identity: f.identity, Facts: map[string]any{}}
	if n.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, "", nil, fmt.Errorf("--identity: no host name to default to: %w", err)
		}
		n.Identity = host
	}
	var err error
	if f.facts != "" {
		if n.Facts, err = agent.LoadFacts(f.facts); err != nil {
			return nil, "", nil, fmt.Errorf("--facts: %w", err)
		}
	}
	if f.classes != "" {
		if n.Classes, err = agent.LoadClasses(f.classes); err != nil {
			return nil, "", nil, fmt.Errorf("--classes: %w", err)
		}
	}
	return []agent.Node{n}, f.agentsDir, nil, nil
}

// server builds the agent server the flags describe, on nc, and the receiver the fleet file asks
// for (nil if none). The receiver already listens: a port in use is refused here.
func (f *agentFlags) server(nc *nats.Conn, log *slog.Logger) (*agent.Server, *agent.Receiver, int, error) {
	nodes, dir, rcfg, err := f.nodes()
	if err != nil {
		return nil, nil, 0, err
	}
	opts := []agent.Option{agent.WithStore(kvstore.Config{Await: f.await}), agent.WithAgentsDir(dir), agent.WithStateDir(f.stateDir),
		agent.WithExecTimeout(f.execTimeout), agent.WithRefresh(f.refresh), agent.WithConcurrency(f.concurrency),
		agent.WithLogger(log.With("component", "agent"))}
	if len(f.trust) > 0 {
		opts = append(opts, agent.WithTrustedSigners(f.trust...))
	}
	srv, err := agent.New(nc, nodes, opts...)
	if err != nil || rcfg == nil {
		return srv, nil, len(nodes), err
	}
	rcv, err := agent.NewReceiver(*rcfg, f.stateDir)
	return srv, rcv, len(nodes), err
}

// runReceiver serves rcv (if any) until ctx ends, and says where it records.
func runReceiver(ctx context.Context, wg *sync.WaitGroup, rcv *agent.Receiver, log *slog.Logger) {
	if rcv == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "fleetbook: receiver for webhook and chat calls on %s, recording to %s\n", rcv.URL(), rcv.File())
	wg.Go(func() {
		if err := rcv.Run(ctx); err != nil {
			log.Error("receiver stopped", "error", err)
		}
	})
}

// startAgents runs the agent server of f (and its fleet's receiver) on its own connection until
// ctx ends. It returns once every node is registered, so discovery finds them.
func startAgents(ctx context.Context, wg *sync.WaitGroup, dial dialFunc, setup *auth.Setup, log *slog.Logger, f *agentFlags) error {
	nc, err := dial("fleetbook agents", auth.RoleFleet)
	if err != nil {
		return err
	}
	f.await = setup != nil
	if setup != nil {
		key, err := coordinatorKey(setup)
		if err != nil {
			return err
		}
		f.trust = []string{key}
	}
	srv, rcv, n, err := f.server(nc, log)
	if err != nil {
		return err
	}
	runReceiver(ctx, wg, rcv, log)
	failed := make(chan error, 1)
	wg.Go(func() {
		if err := srv.Run(ctx); err != nil {
			log.Error("agents stopped", "error", err)
			failed <- err
		}
	})
	select {
	case <-srv.Ready():
		fmt.Fprintf(os.Stderr, "fleetbook: serving %d node(s) with agents %v\n", n, agentNames(srv))
	case err := <-failed:
		return err
	case <-ctx.Done():
	}
	return nil
}

func agentNames(srv *agent.Server) []string {
	var names []string
	for _, a := range srv.Agents() {
		names = append(names, a.Name+"@"+a.Version)
	}
	return names
}

func agentCommand() *cobra.Command {
	var (
		conn    connFlags
		f       agentFlags
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent (or a simulated fleet of them) against a NATS server",
		Long: `Run the node agent: register the node in the registry (identity, facts, classes, agents),
keep the registration fresh, and answer RPC requests for its agents.

  fleetbook agent --identity web1 --facts facts.yaml --classes classes.txt --agents-dir agents/ --server nats://host:4222
  fleetbook agent --fleet examples/web-cluster/fleet.yaml --server nats://127.0.0.1:4222

With --fleet, one process simulates every node of the fleet file (thousands are fine).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Refused requests are warnings: a node says who tried to make it act, verbose or not.
			log := leveled(slog.LevelWarn)
			if verbose {
				log = logger(true)
			}
			f.await = !conn.noAuth
			if err := f.resolveTrust(&conn); err != nil {
				return err
			}
			nc, err := conn.dial("fleetbook agent")
			if err != nil {
				return exitf(exitInfra, "connect to NATS: %v", err)
			}
			defer nc.Close()
			srv, rcv, n, err := f.server(nc, log)
			if err != nil {
				return exitf(exitRefused, "%v", err)
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			runReceiver(cmd.Context(), &wg, rcv, log)
			go func() {
				select {
				case <-srv.Ready():
					fmt.Fprintf(os.Stderr, "fleetbook agent: serving %d node(s) with agents %v; Ctrl-C to stop\n", n, agentNames(srv))
				case <-cmd.Context().Done():
				}
			}()
			if err := srv.Run(cmd.Context()); err != nil {
				return exitf(exitInfra, "%v", err)
			}
			return nil
		},
	}
	// Without credentials, a data dir's fleet credentials serve any identity: one machine only.
	conn.registerRemote(cmd, auth.RoleFleet)
	f.register(cmd)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log requests and registrations")
	return cmd
}
