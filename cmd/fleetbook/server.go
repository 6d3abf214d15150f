package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
)

// serverConfig shapes an embedded server.
type serverConfig struct {
	dataDir    string
	listen     string // host:port; empty means in-process connections only
	syncAlways bool
	verbose    bool
	// noAuth serves anonymous clients: for throw-away experiments only.
	noAuth bool
	// insecure allows a plain-text listener on a non-loopback address.
	insecure bool
	// tlsCert and tlsKey make the listener TLS; tlsCA also requires and verifies client certificates.
	tlsCert, tlsKey, tlsCA string
	// encryptionKey is a file holding the JetStream encryption key; empty means the data dir's own.
	encryptionKey string
}

// dialFunc opens a connection named name with the credentials of role.
type dialFunc func(name string, role auth.Role) (*nats.Conn, error)

// embedded is an embedded server and what runs on it in this process: a coordinator, a worker
// and, with a fleet file, its simulated nodes, each on in-process connections with the
// credentials of its role.
type embedded struct {
	srv    *server.Server
	dir    *dataDir
	setup  *auth.Setup // nil with --no-auth
	cancel context.CancelFunc
	wg     sync.WaitGroup
	conns  []*nats.Conn
}

// startEmbedded starts the server of cfg and on it a coordinator (with coordOpts) and a worker
// running concurrency jobs at once, and the nodes of fleet.fleet when it names a fleet file. They
// run under ctx until stop.
func startEmbedded(ctx context.Context, cfg serverConfig, log *slog.Logger, concurrency int, plugins pluginSet,
	fleet *agentFlags, obs *metricsFlags, coordOpts ...coordinator.Option) (*embedded, error) {
	srv, dir, setup, err := startServer(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &embedded{srv: srv, dir: dir, setup: setup, cancel: cancel}
	if err := startServices(ctx, &e.wg, e.dial, e.setup, log, concurrency, plugins, obs, coordOpts...); err != nil {
		e.stop()
		return nil, exitf(exitInfra, "%v", err)
	}
	if fleet.fleet != "" {
		if err := startAgents(ctx, &e.wg, e.dial, e.setup, log, fleet); err != nil {
			e.stop()
			return nil, agentExit("--fleet", err)
		}
	}
	return e, nil
}

// dial opens an in-process connection named name with role's credentials, closed by stop.
func (e *embedded) dial(name string, role auth.Role) (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(e.srv), nats.Name(name)}
	if e.setup != nil {
		creds := e.setup.CredsPath(role)
		key, err := auth.UserKey(creds)
		if err != nil {
			return nil, err
		}
		opts = append(append(opts, nats.UserCredentials(creds)), inboxOption(key)...)
	}
	nc, err := nats.Connect("", opts...)
	if err == nil {
		e.conns = append(e.conns, nc)
	}
	return nc, err
}

// stop ends what runs on the server and waits for it, closes the connections, then shuts the
// server down and lets the data directory go.
func (e *embedded) stop() {
	e.cancel()
	e.wg.Wait()
	for _, nc := range e.conns {
		nc.Close()
	}
	forgetAbandonedPulls(e.srv)
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.dir.release()
}

// forgetAbandonedPulls makes srv drop the pull requests of clients that are gone. Shutdown tells
// the client of every pull request still waiting that the server goes away, and then sleeps
// 50 ms for that word to get out, even when nobody is left to hear it: the coordinator's and
// the worker's last pull requests wait until they expire, long after their subscriptions went.
// A consumer's info prunes the waiting requests that have no subscriber, so reading every
// consumer's once (in-process, nothing is sent) spares a one-shot run that sleep.
func forgetAbandonedPulls(srv *server.Server) {
	_, _ = srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true})
}

// startServer locks cfg.dataDir and starts the embedded JetStream server with its state there:
// with authentication (the data dir's credentials setup, made on first start) unless
// cfg.noAuth, and with JetStream encryption at rest for a store it creates.
func startServer(cfg serverConfig) (*server.Server, *dataDir, *auth.Setup, error) {
	dir, err := lockDataDir(cfg.dataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	srv, setup, err := newServer(cfg, dir)
	if err != nil {
		dir.release()
		return nil, nil, nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		dir.release()
		return nil, nil, nil, exitf(exitInfra, "embedded nats server did not start within 30s (run with --verbose to see its log)")
	}
	return srv, dir, setup, nil
}

func newServer(cfg serverConfig, dir *dataDir) (*server.Server, *auth.Setup, error) {
	opts := &server.Options{
		ServerName: "fleetbook",
		JetStream:  true,
		StoreDir:   dir.path,
		NoSigs:     true,
		NoLog:      !cfg.verbose,
		SyncAlways: cfg.syncAlways,
	}
	if err := listenOptions(opts, cfg); err != nil {
		return nil, nil, err
	}
	var setup *auth.Setup
	if !cfg.noAuth {
		s, _, err := auth.Init(filepath.Join(dir.path, authDir))
		if err != nil {
			return nil, nil, exitf(exitInfra, "credentials in %s: %v", filepath.Join(dir.path, authDir), err)
		}
		operator, system, accounts, err := s.ServerTrust()
		if err != nil {
			return nil, nil, exitf(exitInfra, "credentials: %v", err)
		}
		resolver := &server.MemAccResolver{}
		for pub, token := range accounts {
			if err := resolver.Store(pub, token); err != nil {
				return nil, nil, exitf(exitInfra, "credentials: %v", err)
			}
		}
		opts.TrustedOperators, opts.SystemAccount, opts.AccountResolver = []*jwt.OperatorClaims{operator}, system, resolver
		if err := adoptAnonymousStore(dir.path, s.Account()); err != nil {
			return nil, nil, err
		}
		setup = s
	}
	key, err := encryptionKey(cfg, dir.path)
	if err != nil {
		return nil, nil, err
	}
	if key != "" {
		opts.JetStreamKey, opts.JetStreamCipher = key, server.AES
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, exitf(exitInfra, "embedded nats server: %v", err)
	}
	if cfg.verbose {
		srv.ConfigureLogger()
	}
	return srv, setup, nil
}

// listenOptions sets where the server listens, refusing a plain-text listener that other
// machines can reach unless cfg.insecure says so.
func listenOptions(opts *server.Options, cfg serverConfig) error {
	if cfg.listen == "" {
		opts.DontListen = true
		return nil
	}
	host, port, err := net.SplitHostPort(cfg.listen)
	if err != nil {
		return exitf(exitRefused, "--listen %q: %v", cfg.listen, err)
	}
	if opts.Port, err = strconv.Atoi(port); err != nil || opts.Port < 0 || opts.Port > 65535 {
		return exitf(exitRefused, "--listen %q: port must be a number from 0 to 65535", cfg.listen)
	}
	if opts.Port == 0 {
		// nats-server reads port 0 as "the default, 4222"; -1 is its "any free port".
		opts.Port = server.RANDOM_PORT
	} else if err := portFree(cfg.listen); err != nil {
		return exitf(exitRefused, "--listen %s: %v", cfg.listen, err)
	}
	opts.Host = host
	tls := cfg.tlsCert != "" || cfg.tlsKey != ""
	if tls {
		if cfg.tlsCert == "" || cfg.tlsKey == "" {
			return exitf(exitRefused, "--tls-cert and --tls-key go together")
		}
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.tlsCert, KeyFile: cfg.tlsKey, CaFile: cfg.tlsCA, Verify: cfg.tlsCA != ""})
		if err != nil {
			return exitf(exitRefused, "TLS: %v", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify = tc, true, cfg.tlsCA != ""
	} else if cfg.tlsCA != "" {
		return exitf(exitRefused, "--tls-ca needs --tls-cert and --tls-key")
	}
	if !tls && !loopback(host) && !cfg.insecure {
		return exitf(exitRefused, "--listen %s is reachable from other machines: serve TLS (--tls-cert, --tls-key) or say --insecure", cfg.listen)
	}
	return nil
}

// portFree says at once when addr cannot be listened on (in use, not an address of this
// machine), rather than letting the server try and the start time out.
func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Err != nil {
			return opErr.Err
		}
		return err
	}
	return l.Close()
}

// loopback reports whether host only accepts connections from this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// adoptAnonymousStore moves the streams of a data dir created before authentication (kept in
// the anonymous account $G) into the fleetbook account, so upgrading keeps every past run. The
// server is not running yet, so this is a rename.
func adoptAnonymousStore(dataDir, account string) error {
	old := filepath.Join(dataDir, "jetstream", server.DEFAULT_GLOBAL_ACCOUNT)
	if _, err := os.Stat(old); err != nil {
		return nil
	}
	target := filepath.Join(dataDir, "jetstream", account)
	if _, err := os.Stat(target); err == nil {
		return exitf(exitInfra, "data dir %s holds streams of both the anonymous account and the fleetbook account; move %s away or run with --no-auth", dataDir, old)
	}
	if err := os.Rename(old, target); err != nil {
		return exitf(exitInfra, "adopt the streams of %s: %v", old, err)
	}
	fmt.Fprintf(os.Stderr, "fleetbook: moved the streams of %s, made before authentication, into the fleetbook account\n", dataDir)
	return nil
}
