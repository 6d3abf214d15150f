package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The paths Mount serves.
const (
	// MetricsPath serves the Prometheus text exposition of the Metrics.
	MetricsPath = "/metrics"
	// HealthPath answers 200 "ok" for as long as the process serves HTTP at all.
	HealthPath = "/healthz"
	// ReadyPath answers 200 "ready" when every readiness check passes, else 503 naming each
	// that did not.
	ReadyPath = "/readyz"
)

// Readiness is something /readyz asks: Ready returns nil when it can do its work, or an error
// saying what is missing (coordinator.Coordinator and worker.Worker implement it).
type Readiness interface {
	Ready(ctx context.Context) error
}

// ReadyFunc adapts a function to Readiness.
type ReadyFunc func(ctx context.Context) error

// Ready calls f.
func (f ReadyFunc) Ready(ctx context.Context) error { return f(ctx) }

// Connected is the readiness of a NATS connection: ready while it is connected. A process with
// no coordinator or worker of its own (a console) uses it for /readyz.
func Connected(nc *nats.Conn) Readiness {
	return ReadyFunc(func(context.Context) error { return ConnectionReady(nc) })
}

// ConnectionReady returns nil when nc is connected, else an error wrapping ErrNotReady with the
// connection's state (connecting, reconnecting, closed...).
func ConnectionReady(nc *nats.Conn) error {
	if nc == nil {
		return fmt.Errorf("%w: no nats connection", ErrNotReady)
	}
	if st := nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("%w: nats connection %s", ErrNotReady, strings.ToLower(st.String()))
	}
	return nil
}

// readyTimeout bounds one /readyz: a check stuck on a server that does not answer is a failure.
const readyTimeout = 3 * time.Second

// Mount serves m on mux at MetricsPath, HealthPath and ReadyPath; /readyz asks each of ready in
// turn. The endpoints check no credentials: whoever reaches the address can read them (they
// carry no secrets, no inputs, only playbook names and counts), so serve them on loopback or
// behind TLS and the network's own controls (docs/security.md).
func Mount(mux *http.ServeMux, m *Metrics, ready ...Readiness) {
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector's failure is reported inside the scrape (ClusterUp), not as a failed page.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		var errs []error
		for _, c := range ready {
			if err := c.Ready(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := errors.Join(errs...); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "%s\n", err)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}

// Handler is a handler serving only Mount's three paths (404 elsewhere), for a server of its own
// (`--metrics ADDR`).
func Handler(m *Metrics, ready ...Readiness) http.Handler {
	mux := http.NewServeMux()
	Mount(mux, m, ready...)
	return mux
}
