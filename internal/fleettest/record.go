package fleettest

import (
	"context"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// RunRecord reads run id's record straight from the runs bucket of the server at url, over a
// connection of its own, and fails the test if it cannot.
func RunRecord(t testing.TB, url, id string) *protocol.RunRecord {
	t.Helper()
	_, js := natstest.Connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runs, err := kvstore.OpenRuns(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := runs.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
