package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

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
