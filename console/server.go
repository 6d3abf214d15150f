package console

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/coordinator"
)

// Console serves the web console on one NATS connection, signed with the console credential.
type Console struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	client *coordinator.Client
	opts   options
	pages  *pages
	mux    *http.ServeMux
	// streams holds a token per live stream open.
	streams chan struct{}
}

// New returns a console using nc, whose requests it signs with the key of WithIdentityKey. A nil
// nc, a nil option or a value an option refuses is an error wrapping ErrInvalidOption.
func New(nc *nats.Conn, opts ...Option) (*Console, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalidOption)
	}
	o := defaults()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	client, err := coordinator.NewClient(nc, coordinator.WithIdentityKey(o.key))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	c := &Console{nc: nc, js: js, client: client, opts: o, pages: p, streams: make(chan struct{}, o.maxStreams)}
	c.mux = c.routes()
	return c, nil
}

// routes maps every URL of the console. Pages and actions need a session (signedIn); the
// sign-in page, the static files and the health endpoints do not.
func (c *Console) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /static/", staticHandler())
	m.HandleFunc("GET /healthz", c.healthz)
	m.HandleFunc("GET /readyz", c.readyz)
	m.HandleFunc("GET /signin", c.signinPage)
	m.HandleFunc("POST /signin", c.signin)
	m.HandleFunc("POST /signout", c.signout)
	m.Handle("GET /session", c.signedInJSON(c.sessionInfo))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/runs", http.StatusSeeOther)
	})
	m.Handle("GET /runs", c.signedIn(c.runsPage))
	m.Handle("GET /runs/{id}", c.signedIn(c.runPage))
	m.Handle("GET /runs/{id}/events", c.signedInJSON(c.runEvents))
	m.Handle("GET /runs/{id}/nodes", c.signedInJSON(c.runNodes))
	m.Handle("POST /runs/{id}/cancel", c.signedIn(c.cancelRun))
	m.Handle("POST /runs/{id}/rerun", c.signedIn(c.rerunRun))
	m.Handle("GET /schedules", c.signedIn(c.schedulesPage))
	m.Handle("POST /schedules/{name}/{action}", c.signedIn(c.scheduleAction))
	m.Handle("GET /nodes", c.signedIn(c.nodesPage))
	for _, x := range c.opts.extra {
		m.Handle(x.pattern, x.h)
	}
	return m
}

// Handler is the console's HTTP handler, with its security headers and the origin check of
// every POST.
func (c *Console) Handler() http.Handler {
	return securityHeaders(sameOrigin(c.opts.publicOrigin, c.mux))
}

// Serve serves the console on l until ctx ends, then shuts the server down, giving requests in
// flight a few seconds. Live streams end with ctx. A TLS listener (tls.NewListener) makes the
// session cookie Secure.
func (c *Console) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           c.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Request contexts end with ctx, so the server-sent event streams stop on shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}
