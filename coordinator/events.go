package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Event publishing gathers a run's events: each stored message costs the server about what a
// no-op step's work costs it, and a run's events come in bursts (a fast step's start and end, a
// one-step run's whole life within a few milliseconds). An event waits at most eventLinger for
// others and is then published with them as one message (protocol.DecodeEvents reads both
// forms); the run's last event publishes at once, with whatever waits.
const (
	eventLinger    = 20 * time.Millisecond
	maxBatchEvents = 64
)

// eventQueue holds a run's events not published yet. Its lock is held while a batch is taken and
// published, so batches reach the stream in the order their events came.
type eventQueue struct {
	mu    sync.Mutex
	evs   [][]byte
	keys  []string
	timer *time.Timer
}

// take empties the queue and returns what it held; the caller holds q.mu.
func (q *eventQueue) take() (evs [][]byte, keys []string) {
	evs, keys, q.evs, q.keys = q.evs, q.keys, nil, nil
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	return evs, keys
}

// event queues ev for the run's event subject. key makes its message id, so an event published
// again by a coordinator replaying the run is stored once. Events are the run's log, not its
// truth (the record is): they are published without waiting for the server's acknowledgement,
// off the run's critical path, and a failure is logged. The run's last event is the exception
// (see finish): it is confirmed before the run message is released.
func (d *driver) event(ctx context.Context, ev protocol.Event, key string) {
	ev.Version, ev.RunID, ev.Coordinator = protocol.EventVersion, d.rec.ID, d.c.opts.name
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	body, err := json.Marshal(ev)
	if err != nil {
		d.log.Error("encode event", "error", err)
		return
	}
	q, runID := &d.events, d.rec.ID
	q.mu.Lock()
	defer q.mu.Unlock()
	q.evs, q.keys = append(q.evs, body), append(q.keys, key)
	switch {
	case ev.Type == protocol.EventRunFinished:
		d.publishEvents(ctx, runID, true)
	case len(q.evs) >= maxBatchEvents:
		d.publishEvents(ctx, runID, false)
	case q.timer == nil:
		q.timer = time.AfterFunc(eventLinger, func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			d.publishEvents(context.Background(), runID, false)
		})
	}
}

// publishEvents publishes the queued events of run runID as one message, confirmed if confirm;
// the caller holds d.events.mu. It may run on the linger timer's goroutine, so it reads nothing
// of the driver that the driver changes.
func (d *driver) publishEvents(ctx context.Context, runID string, confirm bool) {
	evs, keys := d.events.take()
	if len(evs) == 0 {
		return
	}
	body, id := evs[0], fmt.Sprintf("%s/%s", runID, keys[0])
	if len(evs) > 1 {
		body = append(append([]byte("["), bytes.Join(evs, []byte(","))...), ']')
		id = fmt.Sprintf("%s/%s..%s/%d", runID, keys[0], keys[len(keys)-1], len(keys))
	}
	subject := protocol.EventSubject(runID)
	if !confirm {
		if _, err := d.c.js.PublishAsync(subject, body, jetstream.WithMsgID(id)); err != nil {
			d.log.Warn("publishing events", "events", len(evs), "error", err)
		}
		return
	}
	var err error
	for try := 0; try < 3; try++ {
		if _, err = d.c.js.Publish(ctx, subject, body, jetstream.WithMsgID(id)); err == nil {
			return
		}
		if sleep(ctx, retryDelay) != nil {
			break
		}
	}
	d.log.Warn("publishing events", "events", len(evs), "error", err)
}
