package worker

import (
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/protocol"
)

// heldProbeTimeout is how long a worker waits for the holder of a redelivered job to answer.
// Only redeliveries pay it.
const heldProbeTimeout = 250 * time.Millisecond

// holding is the set of jobs this worker is running, by job id, so it can answer a worker that
// was handed one of them again.
type holding struct {
	mu   sync.Mutex
	jobs map[string]int
}

func newHolding() *holding { return &holding{jobs: map[string]int{}} }

// hold records that id runs here until release is called.
func (h *holding) hold(id protocol.JobID) (release func()) {
	key := id.String()
	h.mu.Lock()
	h.jobs[key]++
	h.mu.Unlock()
	return sync.OnceFunc(func() {
		h.mu.Lock()
		if h.jobs[key]--; h.jobs[key] <= 0 {
			delete(h.jobs, key)
		}
		h.mu.Unlock()
	})
}

func (h *holding) holds(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.jobs[key] > 0
}

// subscribeHeld answers "who holds this job?" for the jobs this worker runs.
func (s *session) subscribeHeld() (*nats.Subscription, error) {
	prefix := strings.TrimSuffix(protocol.HeldSubjectWildcard, "*")
	return s.w.nc.Subscribe(protocol.HeldSubjectWildcard, func(m *nats.Msg) {
		if s.holding.holds(strings.TrimPrefix(m.Subject, prefix)) && m.Reply != "" {
			_ = m.Respond([]byte(s.w.opts.name))
		}
	})
}

// heldElsewhere asks whether another worker still runs job id, and names it.
func (s *session) heldElsewhere(id protocol.JobID) (string, bool) {
	m, err := s.w.nc.Request(protocol.HeldSubject(id), nil, heldProbeTimeout)
	if err != nil {
		return "", false
	}
	return string(m.Data), true
}
