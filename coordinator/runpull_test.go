package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// The long-lived pull of run messages survives the loss of its consumer: the coordinator creates
// it again and drives the runs submitted afterwards.
func TestRunsPulledAfterConsumerDeleted(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("a")
	e.startTestWorker(succeed)
	if r := e.waitFinal(e.submit(header+"tasks:\n"+shell("one"), nil), 10*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("first run: %s", r.Status)
	}
	if err := e.js.DeleteConsumer(context.Background(), protocol.RunsStreamName, protocol.RunsConsumerName); err != nil {
		t.Fatal(err)
	}
	if r := e.waitFinal(e.submit(header+"tasks:\n"+shell("two"), nil), 20*time.Second); r.Status != protocol.StatusSuccess {
		t.Fatalf("run after the consumer was deleted: %s", r.Status)
	}
}
