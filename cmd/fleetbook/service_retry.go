package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
)

// startPatience is how long a coordinator or worker keeps trying to start while JetStream is
// temporarily unavailable: a cluster that is electing its leaders, or still forming.
const startPatience = time.Minute

// runRetrying calls run until it returns for good: a start-up failure that JetStream may get over
// by itself is tried again, after a pause, for up to startPatience.
func runRetrying(ctx context.Context, log *slog.Logger, what string, run func(context.Context) error) error {
	giveUp := time.Now().Add(startPatience)
	for {
		err := run(ctx)
		if err == nil || ctx.Err() != nil || !kvstore.Transient(err) || time.Now().After(giveUp) {
			return err
		}
		log.Warn(what+" could not start; trying again", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
