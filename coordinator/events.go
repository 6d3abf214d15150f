package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// event publishes ev on the run's event subject. key makes its message id, so an event published
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
	id := fmt.Sprintf("%s/%s", d.rec.ID, key)
	if ev.Type != protocol.EventRunFinished {
		if _, err := d.c.js.PublishAsync(protocol.EventSubject(d.rec.ID), body, jetstream.WithMsgID(id)); err != nil {
			d.log.Warn("publishing event", "type", ev.Type, "error", err)
		}
		return
	}
	for try := 0; try < 3; try++ {
		if _, err = d.c.js.Publish(ctx, protocol.EventSubject(d.rec.ID), body, jetstream.WithMsgID(id)); err == nil {
			return
		}
		if sleep(ctx, retryDelay) != nil {
			break
		}
	}
	d.log.Warn("publishing event", "type", ev.Type, "error", err)
}
