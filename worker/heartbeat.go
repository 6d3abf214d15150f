package worker

import (
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// startHeartbeat sends InProgress on msg every interval until the returned stop is called, so a
// job that runs longer than AckWait is not delivered to a second worker. stop waits for the
// heartbeat goroutine to exit and may be called more than once.
func startHeartbeat(msg jetstream.Msg, every time.Duration, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// Fire-and-forget: a lost heartbeat is covered by the next two before AckWait.
				if err := msg.InProgress(); err != nil {
					log.Debug("heartbeat failed", "error", err)
				}
			}
		}
	})
	return sync.OnceFunc(func() {
		close(done)
		wg.Wait()
	})
}
