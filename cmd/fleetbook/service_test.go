package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A start-up failure JetStream may get over (503 while a cluster elects) is tried again; any
// other is returned at once.
func TestRunRetrying(t *testing.T) {
	unavailable := &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}
	log := slog.New(slog.DiscardHandler)
	calls := 0
	err := runRetrying(context.Background(), log, "test", func(context.Context) error {
		calls++
		if calls < 3 {
			return unavailable
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("transient failures: err %v after %d calls, want nil after 3", err, calls)
	}
	refused := errors.New("3 replicas need a NATS cluster")
	calls = 0
	err = runRetrying(context.Background(), log, "test", func(context.Context) error { calls++; return refused })
	if !errors.Is(err, refused) || calls != 1 {
		t.Errorf("permanent failure: err %v after %d calls, want it after 1", err, calls)
	}
}
