package bench

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Env is one embedded JetStream server and the in-process connections made to it.
type Env struct {
	srv *server.Server
	// dir is removed on Close when the Env created it.
	dir     string
	ownsDir bool

	mu    sync.Mutex
	conns []*nats.Conn
}

// StartEnv starts an embedded server like the embedded default: file storage in dir (a new
// temporary directory when dir is empty), no listener, in-process connections. syncAlways makes
// the server fsync before acknowledging every write (`--sync always`).
func StartEnv(dir string, syncAlways bool) (*Env, error) {
	return startEnv(dir, syncAlways, false)
}

// startEnv is StartEnv; with listen the server also accepts clients on a free loopback port
// (URL), for fleetbook processes the benchmark starts.
func startEnv(dir string, syncAlways, listen bool) (*Env, error) {
	e := &Env{dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "fleetbook-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench store dir: %w", err)
		}
		e.dir, e.ownsDir = d, true
	}
	opts := &server.Options{
		ServerName: "fleetbook-bench",
		JetStream:  true,
		StoreDir:   e.dir,
		DontListen: !listen,
		NoLog:      true,
		NoSigs:     true,
		SyncAlways: syncAlways,
	}
	if listen {
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		e.removeDir()
		return nil, fmt.Errorf("embedded nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		e.removeDir()
		return nil, errors.New("embedded nats server did not start")
	}
	e.srv = srv
	return e, nil
}

// Connect opens an in-process connection, closed by Close.
func (e *Env) Connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.Name(name))
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", name, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	e.mu.Lock()
	e.conns = append(e.conns, nc)
	e.mu.Unlock()
	return nc, js, nil
}

// URL is the server's client URL; it only accepts connections when the Env listens.
func (e *Env) URL() string { return e.srv.ClientURL() }

// Counters are totals, to count what one operation costs the server and the process.
type Counters struct {
	// InMsgs counts messages clients sent the server: publishes, requests and replies, acks,
	// pull requests, direct gets.
	InMsgs int64
	// Stored counts the messages ever stored in the streams that exist now (KV buckets included):
	// the sum of their last sequences. A stream deleted in between is not counted.
	Stored uint64
	// CPU is the user and system time of this process: with everything in-process (server,
	// coordinator, worker, client), what the whole system spent.
	CPU time.Duration
}

// Counters reads the totals.
func (e *Env) Counters() Counters {
	var c Counters
	if vz, err := e.srv.Varz(nil); err == nil {
		c.InMsgs = vz.InMsgs
	}
	if jsz, err := e.srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true}); err == nil {
		for _, acc := range jsz.AccountDetails {
			for _, st := range acc.Streams {
				c.Stored += st.State.LastSeq
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return c
}

// Close closes every connection, stops the server and removes a directory it created.
func (e *Env) Close() {
	e.mu.Lock()
	for _, nc := range e.conns {
		nc.Close()
	}
	e.conns = nil
	e.mu.Unlock()
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.removeDir()
}

func (e *Env) removeDir() {
	if e.ownsDir {
		_ = os.RemoveAll(e.dir)
	}
}
