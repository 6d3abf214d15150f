package coordinator

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// gone reports whether the API no longer knows run id.
func (e *env) gone(id string) bool {
	_, err := e.client.Get(context.Background(), id)
	var apiErr *protocol.ErrorResponse
	return errors.As(err, &apiErr) && apiErr.Code == protocol.CodeNotFound
}

// A coordinator deletes the runs that ended longer ago than it keeps them, and only those.
func TestCoordinatorPrunesEndedRuns(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1", WithKeepRuns(time.Second))
	release := make(chan struct{})
	defer close(release)
	var started atomic.Int32
	e.startTestWorker(blockOn(release, &started))
	ended := e.submit(header+"tasks:\n"+shell("one"), nil)
	e.waitFinal(ended, 10*time.Second)
	running := e.submit(header+"tasks:\n  - shell:\n      command: block\n", nil)
	natstest.Eventually(t, 15*time.Second, func() error {
		if !e.gone(ended) {
			return errNotYet
		}
		return nil
	})
	if e.gone(running) {
		t.Errorf("a running run was pruned")
	}
}

// runs prune through the API: ended runs older than the limit go, the others stay.
func TestPruneRequest(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1", WithKeepRuns(0))
	e.startTestWorker(succeed)
	first := e.submit(header+"tasks:\n"+shell("one"), nil)
	e.waitFinal(first, 10*time.Second)
	time.Sleep(3 * time.Second)
	second := e.submit(header+"tasks:\n"+shell("two"), nil)
	e.waitFinal(second, 10*time.Second)

	ctx := context.Background()
	n, err := e.client.Prune(ctx, 2*time.Second)
	if err != nil || n != 1 {
		t.Fatalf("prune: %d %v, want 1", n, err)
	}
	if !e.gone(first) || e.gone(second) {
		t.Errorf("first gone %v (want true), second gone %v (want false)", e.gone(first), e.gone(second))
	}
	_, err = e.client.Prune(ctx, 0)
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeBadRequest {
		t.Errorf("prune with no age: %v, want %s", err, protocol.CodeBadRequest)
	}
}
