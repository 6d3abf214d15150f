package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The cluster serves an R3 stream, and keeps serving it when the stream's leader is shut down.
func TestClusterR3Stream(t *testing.T) {
	c := RunCluster(t, 3)
	_, js := Connect(t, c.URLs())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3}); err != nil {
		t.Fatalf("create R3 stream: %v", err)
	}
	t.Logf("R3 stream created in %s", time.Since(t0))
	leader, err := StreamLeader(ctx, js, "S")
	if err != nil {
		t.Fatal(err)
	}
	c.Shutdown(c.Index(leader))
	// Each try has a bound of its own: one publish sent while the survivors elect a leader waits
	// for an ack that never comes, and must not use up the time of the tries after it.
	Eventually(t, time.Minute, func() error {
		pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.Publish(pctx, "s.1", []byte("x"))
		return err
	})
}
