package worker

import (
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// startHeartbeat sends InProgress on msg every interval until the returned stop is called, so a
// job that runs longer than AckWait is not delivered to a second worker. If a tick finds that no
// heartbeat went out for longer than lease (the process was paused or starved), the server has
// already handed the job to another worker: lost is called once and the heartbeat ends. stop
// waits for the heartbeat goroutine to exit and may be called more than once.
func startHeartbeat(msg jetstream.Msg, every, lease time.Duration, log *slog.Logger, lost func()) (stop func()) {
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
				// The tick's own time may be stale after a pause; the clock now is what counts.
				if gap := time.Since(last); gap > lease {
					log.Warn("job lease lost: no heartbeat for longer than AckWait", "gap", gap, "ack_wait", lease)
					lost()
					return
				}
				last = time.Now()
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
