package discover

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
)

// wait bounds every Eventually in these tests: generous, since -race on a small machine is slow;
// none of the tests asserts how fast anything is.
const wait = 20 * time.Second

// setup starts a server with every fleetbook stream and bucket provisioned.
func setup(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s.ClientURL())
	if err := kvstore.Provision(t.Context(), js, kvstore.Config{}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return nc, js
}
