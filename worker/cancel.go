package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/protocol"
)

// Job stops that are not the worker's shutdown. They are the causes of a job's context.
var (
	// errRunCancelled: the coordinator cancelled the job's run (protocol.CancelSubject).
	errRunCancelled = errors.New("cancelled")
	// errLeaseLost: the job went longer than AckWait without a heartbeat (the worker was paused,
	// say), so the server has given it to another worker; this copy must stop and stay silent.
	errLeaseLost = errors.New("lease lost")
)

// cancelMemory is how long a cancel message is remembered: a job of that run pulled just before
// the coordinator purged the queue may only start after the message came.
const cancelMemory = 10 * time.Minute

// cancelled is a run cancellation: why, and when it came.
type cancelled struct {
	reason string
	at     time.Time
}

// cancels routes a run's cancel message to the executions of that run in flight here.
type cancels struct {
	mu      sync.Mutex
	running map[string]map[*context.CancelCauseFunc]struct{}
	recent  map[string]cancelled
}

func newCancels() *cancels {
	return &cancels{running: map[string]map[*context.CancelCauseFunc]struct{}{}, recent: map[string]cancelled{}}
}

// track returns a context for one execution of a job of runID, cancelled when the run is (at
// once if it already was). done must be called when the execution ends.
func (c *cancels) track(parent context.Context, runID string) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancelCause(parent)
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.recent[runID]; ok && time.Since(rc.at) < cancelMemory {
		cancel(runCancelled(rc.reason))
		return ctx, func() { cancel(nil) }
	}
	if c.running[runID] == nil {
		c.running[runID] = map[*context.CancelCauseFunc]struct{}{}
	}
	key := &cancel
	c.running[runID][key] = struct{}{}
	return ctx, func() {
		c.mu.Lock()
		delete(c.running[runID], key)
		if len(c.running[runID]) == 0 {
			delete(c.running, runID)
		}
		c.mu.Unlock()
		cancel(nil)
	}
}

// cancel stops every execution of runID and remembers the run for later ones. It returns how
// many executions it stopped.
func (c *cancels) cancel(runID, reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for id, rc := range c.recent {
		if now.Sub(rc.at) >= cancelMemory {
			delete(c.recent, id)
		}
	}
	c.recent[runID] = cancelled{reason: reason, at: now}
	for stop := range c.running[runID] {
		(*stop)(runCancelled(reason))
	}
	return len(c.running[runID])
}

// runCancelled wraps errRunCancelled with the coordinator's reason.
func runCancelled(reason string) error {
	if reason == "" {
		return errRunCancelled
	}
	return &cancelError{reason: reason}
}

// cancelError is errRunCancelled with the reason the coordinator gave.
type cancelError struct{ reason string }

func (e *cancelError) Error() string { return e.reason }
func (e *cancelError) Unwrap() error { return errRunCancelled }

// subscribeCancels listens for every run's cancel message until the returned subscription is
// unsubscribed.
func (r *run) subscribeCancels() (*nats.Subscription, error) {
	prefix := strings.TrimSuffix(protocol.CancelSubjectWildcard, "*")
	return r.w.nc.Subscribe(protocol.CancelSubjectWildcard, func(m *nats.Msg) {
		runID := strings.TrimPrefix(m.Subject, prefix)
		if n := r.cancels.cancel(runID, string(m.Data)); n > 0 {
			r.w.log.Info("run cancelled: stopping its jobs", "run_id", runID, "jobs", n)
		}
	})
}

// cancelledResult turns the outcome of an execution stopped by its run's cancellation into the
// failed result the coordinator records.
func cancelledResult(res protocol.Result, cause error) protocol.Result {
	res.Success = false
	res.Msg = "cancelled"
	var ce *cancelError
	if errors.As(cause, &ce) {
		res.Msg = ce.reason
		if !strings.HasPrefix(res.Msg, "cancelled") {
			res.Msg = "cancelled: " + res.Msg
		}
	}
	if res.ExitCode == 0 {
		res.ExitCode = -1
	}
	res.EndedAt = time.Now().UTC()
	return res
}
