package coordinator

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// A run cancelled while its job waits in the queue, unstarted, must not leave it there to run
// after the run's end.
func TestCancelledRunLeavesNoQueuedJob(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	id := e.submit(header+"tasks:\n  - shell:\n      command: never\n", nil)
	natstest.Eventually(t, 30*time.Second, func() error {
		if n := jobsOf(t, e, id); n != 1 {
			return fmt.Errorf("%d jobs queued, want 1", n)
		}
		return nil
	})
	if _, err := e.client.Cancel(t.Context(), id, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	if rep := e.waitFinal(id, 30*time.Second); rep.Status != protocol.StatusCancelled {
		t.Fatalf("run %s: %s", rep.Status, rep.Error)
	}
	natstest.Eventually(t, 30*time.Second, func() error {
		if n := jobsOf(t, e, id); n != 0 {
			return fmt.Errorf("%d jobs of the cancelled run still in the queue, to run after its end", n)
		}
		return nil
	})
}

// jobsOf is how many jobs of run id the jobs stream holds.
func jobsOf(t *testing.T, e *env, id string) int {
	return natstest.Messages(t, e.js, protocol.JobsStreamName, fmt.Sprintf(protocol.JobsRunWildcardPattern, id))
}
