package main

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
)

// Port 0 must mean "any free port", as it does for net.Listen, not nats-server's default 4222.
func TestStartServerListenPortZero(t *testing.T) {
	srv, err := startServer(serverConfig{dataDir: t.TempDir(), listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		t.Fatalf("ClientURL %q: %v", srv.ClientURL(), err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port <= 0 || port == 4222 {
		t.Fatalf("ClientURL %q: want the random port actually bound, got port %q", srv.ClientURL(), u.Port())
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect to %s: %v", srv.ClientURL(), err)
	}
	nc.Close()
}

func TestStartServerListenRefusesBadPort(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:-1", "127.0.0.1:x", "nohostport"} {
		if _, err := startServer(serverConfig{dataDir: t.TempDir(), listen: listen}); err == nil {
			t.Errorf("--listen %q: want an error", listen)
		}
	}
}
