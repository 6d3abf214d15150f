// Package natstest starts real NATS servers for tests: an embedded JetStream server, a 3-node
// cluster, or a nats-server subprocess that a test can kill -9. Nothing here mocks NATS.
package natstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RunServer starts an embedded JetStream server on a random loopback port, with its store in a
// temporary directory, and stops it when the test ends. mods adjust the options first.
// serverReadiness is how long a test server may take to accept connections: a cluster node
// restarting on a loaded 2-core machine, while other test packages run, has taken more than 10 s
// (TestN4ClusterLosesJobsLeader, "did not become ready"). It is a wait for readiness, not a bound
// on speed.
const serverReadiness = 2 * time.Minute

func RunServer(t testing.TB, mods ...func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
	}
	for _, mod := range mods {
		mod(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(serverReadiness) {
		t.Fatalf("nats server did not become ready")
	}
	// Registered after t.TempDir, so it runs first: the server stops before its store is removed.
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// Connect connects to url and closes the connection when the test ends.
func Connect(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Eventually polls f every few milliseconds until it returns nil, and fails the test with f's
// last error if that does not happen within d.
func Eventually(t testing.TB, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	err := errors.New("never ran")
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s: %v", d, err)
}

// Messages is how many messages stream holds on the subjects matching filter.
func Messages(t testing.TB, js jetstream.JetStream, stream, filter string) int {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}
