package coordinator

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/micro"

	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
)

// Ready reports whether the coordinator can do its work (metrics.Readiness, for /readyz): its
// NATS connection is up, its streams and buckets are provisioned and its API is served (Run got
// that far and has not returned), and the API answers a ping of one of its own instances
// within ctx. The error wraps metrics.ErrNotReady and says which of these is missing.
func (c *Coordinator) Ready(ctx context.Context) error {
	if err := metrics.ConnectionReady(c.nc); err != nil {
		return fmt.Errorf("coordinator %s: %w", c.opts.name, err)
	}
	id := c.serving.Load()
	if id == nil {
		return fmt.Errorf("coordinator %s: %w: streams and buckets not provisioned, or the API not served, yet", c.opts.name, metrics.ErrNotReady)
	}
	subject, err := micro.ControlSubject(micro.PingVerb, protocol.ServiceName, *id)
	if err != nil {
		return err
	}
	if _, err := c.nc.RequestWithContext(ctx, subject, nil); err != nil {
		return fmt.Errorf("coordinator %s: %w: the API did not answer a ping: %v", c.opts.name, metrics.ErrNotReady, err)
	}
	return nil
}
