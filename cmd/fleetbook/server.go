package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/coordinator"
)

// serverConfig shapes an embedded server.
type serverConfig struct {
	dataDir    string
	listen     string // host:port; empty means in-process connections only
	syncAlways bool
	verbose    bool
}

// embedded is an embedded server and what runs on it in this process: a coordinator, a worker
// and, with a fleet file, its simulated nodes, each on in-process connections.
type embedded struct {
	srv    *server.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
	conns  []*nats.Conn
}

// startEmbedded starts the server of cfg and on it a coordinator (with coordOpts) and a worker
// running concurrency jobs at once, and the nodes of fleet.fleet when it names a fleet file. They
// run under ctx until stop.
func startEmbedded(ctx context.Context, cfg serverConfig, log *slog.Logger, concurrency int, plugins pluginSet,
	fleet *agentFlags, coordOpts ...coordinator.Option) (*embedded, error) {
	srv, err := startServer(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &embedded{srv: srv, cancel: cancel}
	if err := startServices(ctx, &e.wg, e.dial, log, concurrency, plugins, coordOpts...); err != nil {
		e.stop()
		return nil, exitf(exitInfra, "%v", err)
	}
	if fleet.fleet != "" {
		if err := startAgents(ctx, &e.wg, e.dial, log, fleet); err != nil {
			e.stop()
			return nil, agentExit("--fleet", err)
		}
	}
	return e, nil
}

// dial opens an in-process connection named name, closed by stop.
func (e *embedded) dial(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.Name(name))
	if err == nil {
		e.conns = append(e.conns, nc)
	}
	return nc, err
}

// stop ends what runs on the server and waits for it, closes the connections, then shuts the
// server down.
func (e *embedded) stop() {
	e.cancel()
	e.wg.Wait()
	for _, nc := range e.conns {
		nc.Close()
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// startServer starts the embedded JetStream server with its state under cfg.dataDir.
func startServer(cfg serverConfig) (*server.Server, error) {
	dir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return nil, exitf(exitRefused, "data dir %q: %v", cfg.dataDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, exitf(exitInfra, "create data dir: %v", err)
	}
	opts := &server.Options{
		ServerName: "fleetbook",
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      !cfg.verbose,
		SyncAlways: cfg.syncAlways,
	}
	if cfg.listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(cfg.listen)
		if err != nil {
			return nil, exitf(exitRefused, "--listen %q: %v", cfg.listen, err)
		}
		if opts.Port, err = strconv.Atoi(port); err != nil || opts.Port < 0 {
			return nil, exitf(exitRefused, "--listen %q: port must be a number from 0 to 65535", cfg.listen)
		}
		if opts.Port == 0 {
			// nats-server reads port 0 as "the default, 4222"; -1 is its "any free port".
			opts.Port = server.RANDOM_PORT
		}
		opts.Host = host
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, exitf(exitInfra, "embedded nats server: %v", err)
	}
	if cfg.verbose {
		srv.ConfigureLogger()
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, exitf(exitInfra, "embedded nats server did not start (is %s in use by another fleetbook?)", dir)
	}
	return srv, nil
}
