package worker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
)

// Ready reports whether the worker can take jobs (metrics.Readiness, for /readyz): its NATS
// connection is up, and Run got as far as pulling, with the streams provisioned and the pool's
// consumer created, and has not returned. The error wraps metrics.ErrNotReady and says which is
// missing.
func (w *Worker) Ready(context.Context) error {
	if err := metrics.ConnectionReady(w.nc); err != nil {
		return fmt.Errorf("worker %s: %w", w.opts.name, err)
	}
	if !w.serving.Load() {
		return fmt.Errorf("worker %s: %w: streams and the consumer of pool %s not set up, or the worker stopped", w.opts.name, metrics.ErrNotReady, w.opts.pool)
	}
	return nil
}

// announce answers the pings of the worker service ($SRV.PING.fleetbook_worker) with a micro
// ping reply naming the worker and its pool, so the workers alive can be counted
// (metrics.Workers) with no traffic between scrapes. It is not a whole micro service on
// purpose: that would also subscribe to every service's pings, INFO and STATS, which the worker
// credential has no need to see. A worker that cannot subscribe still works, uncounted.
func (w *Worker) announce() *nats.Subscription {
	reply, err := json.Marshal(micro.Ping{Type: micro.PingResponseType, ServiceIdentity: micro.ServiceIdentity{
		Name: protocol.WorkerServiceName, ID: nuid.Next(), Version: protocol.WorkerServiceVersion,
		Metadata: map[string]string{protocol.WorkerMetadataName: w.opts.name, protocol.WorkerMetadataPool: w.opts.pool},
	}})
	if err != nil {
		return nil
	}
	subject, err := micro.ControlSubject(micro.PingVerb, protocol.WorkerServiceName, "")
	if err == nil {
		var sub *nats.Subscription
		if sub, err = w.nc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(reply) }); err == nil {
			return sub
		}
	}
	w.log.Warn("answering the worker service's pings failed: this worker is not counted among the workers alive", "error", err)
	return nil
}
