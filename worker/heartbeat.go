package worker

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
)

// startHeartbeat sends InProgress on msg every interval, so a job that runs longer than AckWait
// is not delivered again, and renews the job's attempt record through renew (when the job is
// held), so no other worker takes it over. When a renewal finds that another worker has taken
// the job over (its holder went silent for longer than the takeover wait: this process was
// paused, or cut off from the server), lost is called once and the heartbeat ends. stop waits for
// the heartbeat goroutine to exit and may be called more than once.
func startHeartbeat(msg jetstream.Msg, every, lease time.Duration, log *slog.Logger, renew func() error, lost func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			// The tick's own time may be stale after a pause; the clock now is what counts.
			if gap := time.Since(last); gap > lease {
				log.Warn("no heartbeat went out for longer than AckWait: the job may have been delivered again", "gap", gap, "ack_wait", lease)
			}
			last = time.Now()
			// Fire-and-forget: a lost heartbeat is covered by the next two before AckWait.
			if err := msg.InProgress(); err != nil {
				log.Debug("heartbeat failed", "error", err)
			}
			if renew == nil {
				continue
			}
			switch err := renew(); {
			case errors.Is(err, kvstore.ErrConflict):
				log.Warn("job taken over by another worker after this one went silent; stopping this copy")
				lost()
				return
			case err != nil:
				// The server is away: the record stays as it was, and nobody takes the job over
				// before it has been silent for the takeover wait.
				log.Debug("renewing the job's attempt record failed", "error", err)
			}
		}
	})
	return sync.OnceFunc(func() {
		close(done)
		wg.Wait()
	})
}
