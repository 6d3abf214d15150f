package discover

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
)

// wait bounds every Eventually in these tests: generous, since -race on a small machine is slow;
// none of the tests asserts how fast anything is.
const wait = 20 * time.Second

// setup starts a server for the node registry and the nodes' pings. Nothing is provisioned:
// the registry's bucket is created by whoever opens it first, as on a fresh deployment.
func setup(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	s := natstest.RunServer(t)
	return natstest.Connect(t, s.ClientURL())
}
