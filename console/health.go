package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/protocol"
)

// readyTimeout bounds the checks of one /readyz.
const readyTimeout = 5 * time.Second

// healthz answers 200 while the process serves.
func (c *Console) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

// readyz answers 200 when the console can do its work: connected to NATS, the events stream is
// there to follow, and a coordinator answers the API. Otherwise 503 saying which is missing.
func (c *Console) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := c.Ready(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Ready says what keeps the console from doing its work (what /readyz answers), nil when
// nothing does.
func (c *Console) Ready(ctx context.Context) error {
	if !c.nc.IsConnected() {
		return errors.New("not connected to NATS (" + c.nc.Status().String() + ")")
	}
	if _, err := c.js.Stream(ctx, protocol.EventsStreamName); err != nil {
		return errors.New("events stream " + protocol.EventsStreamName + ": " + err.Error())
	}
	// The probe is a signed runs.get of no run: a coordinator answers it BAD_REQUEST before any
	// policy decision, so it proves the API answers without a grant and without filling the
	// audit log with refusals of the console's own identity.
	_, err := c.client.Get(ctx, "")
	var apiErr *protocol.ErrorResponse
	switch {
	case err == nil, errors.As(err, &apiErr):
		return nil
	case errors.Is(err, coordinator.ErrNoCoordinator):
		return errors.New("no coordinator answers the API")
	}
	return errors.New("API: " + err.Error())
}
