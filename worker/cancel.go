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

// cancels routes a run's cancel message to the jobs of that run held here.
//
// A cancel concerns only the jobs held when it comes: the coordinator removes the run's queued jobs
// before it sends the message, and dispatches the run's on_fail and post_book hooks after it, as
// jobs of the same run that must run. So nothing is remembered of a cancel once it is delivered.
type cancels struct {
	mu      sync.Mutex
	running map[string]map[*context.CancelCauseFunc]struct{}
}

func newCancels() *cancels {
	return &cancels{running: map[string]map[*context.CancelCauseFunc]struct{}{}}
}

// track returns a context for a job of runID held from now on, cancelled when the run is. done
// must be called when the job is settled.
func (c *cancels) track(parent context.Context, runID string) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancelCause(parent)
	c.mu.Lock()
	defer c.mu.Unlock()
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

// cancel stops every job of runID held here and returns how many it stopped.
func (c *cancels) cancel(runID, reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
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
func (s *session) subscribeCancels() (*nats.Subscription, error) {
	prefix := strings.TrimSuffix(protocol.CancelSubjectWildcard, "*")
	return s.w.nc.Subscribe(protocol.CancelSubjectWildcard, func(m *nats.Msg) {
		runID := strings.TrimPrefix(m.Subject, prefix)
		if n := s.cancels.cancel(runID, string(m.Data)); n > 0 {
			s.w.log.Info("run cancelled: stopping its jobs", "run_id", runID, "jobs", n)
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
