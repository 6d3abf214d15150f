package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/worker"
)

// metricsFlags are --metrics and its TLS: where a long-running command serves /metrics,
// /healthz and /readyz (metrics.Mount), off by default. Once the command's services are built,
// they hold the Metrics they count in and the readiness checks /readyz asks.
type metricsFlags struct {
	addr, tlsCert, tlsKey string
	// insecure is the command's --insecure: a plain-text address other machines reach.
	insecure *bool

	// forConsole counts even without --metrics: `up --http` serves /metrics on the console.
	forConsole bool

	m     *metrics.Metrics
	ready []metrics.Readiness
}

// register adds --metrics, --metrics-tls-cert and --metrics-tls-key to cmd; insecure is the
// command's --insecure flag.
func (f *metricsFlags) register(cmd *cobra.Command, insecure *bool) {
	cmd.Flags().StringVar(&f.addr, "metrics", "", "serve Prometheus /metrics, /healthz and /readyz on HOST:PORT, e.g. 127.0.0.1:9464; off by default")
	cmd.Flags().StringVar(&f.tlsCert, "metrics-tls-cert", "", "serve --metrics over TLS with this certificate file")
	cmd.Flags().StringVar(&f.tlsKey, "metrics-tls-key", "", "the key file of --metrics-tls-cert")
	f.insecure = insecure
}

// on says whether --metrics was given.
func (f *metricsFlags) on() bool { return f != nil && f.addr != "" }

// counting says whether the services count in Metrics: with --metrics, or for the console.
func (f *metricsFlags) counting() bool { return f.on() || f != nil && f.forConsole }

// consoleHandler is the console's /metrics (console.WithHandler), nil when nothing counts.
func (f *metricsFlags) consoleHandler() http.Handler {
	if !f.counting() || f.m == nil {
		return nil
	}
	return metrics.Handler(f.m)
}

// check refuses, before anything starts, a --metrics address other machines reach without TLS
// (unless --insecure) and a TLS flag without its pair.
func (f *metricsFlags) check() error {
	if !f.on() {
		if f != nil && (f.tlsCert != "" || f.tlsKey != "") {
			return exitf(exitRefused, "--metrics-tls-cert and --metrics-tls-key need --metrics")
		}
		return nil
	}
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		return exitf(exitRefused, "--metrics %q: %v", f.addr, err)
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return exitf(exitRefused, "--metrics-tls-cert and --metrics-tls-key go together")
	}
	if f.tlsCert == "" && !loopback(host) && !(f.insecure != nil && *f.insecure) {
		return exitf(exitRefused, "--metrics %s is reachable from other machines: serve TLS (--metrics-tls-cert, --metrics-tls-key) or say --insecure", f.addr)
	}
	return nil
}

// attach makes the Metrics the command's services count in; cluster, when not nil, is the
// connection the cluster gauges are read through (the coordinator's: one per process).
func (f *metricsFlags) attach(cluster *nats.Conn) error {
	if !f.counting() || f.m != nil {
		return nil
	}
	var opts []metrics.Option
	if cluster != nil {
		opts = append(opts, metrics.WithCluster(cluster))
	}
	m, err := metrics.New(opts...)
	if err != nil {
		return err
	}
	f.m = m
	return nil
}

// coordinator is the option that counts in the Metrics, none when --metrics is off.
func (f *metricsFlags) coordinator() []coordinator.Option {
	if !f.counting() || f.m == nil {
		return nil
	}
	return []coordinator.Option{coordinator.WithMetrics(f.m)}
}

// worker is the option that counts in the Metrics, none when --metrics is off.
func (f *metricsFlags) worker() []worker.Option {
	if !f.counting() || f.m == nil {
		return nil
	}
	return []worker.Option{worker.WithMetrics(f.m)}
}

// readyWith adds what /readyz asks: each service that can tell (coordinators and workers).
func (f *metricsFlags) readyWith(services ...any) {
	if !f.counting() {
		return
	}
	for _, s := range services {
		if r, ok := s.(metrics.Readiness); ok {
			f.ready = append(f.ready, r)
		}
	}
}

// serve listens on --metrics and serves the Metrics there, on a mux of its own, printing
// "metrics: http://ADDR/metrics" (https with TLS) on stderr with the address really bound (a
// port 0 is chosen by the system), and returns that URL's base. stop closes the server. With
// --metrics off it does nothing.
func (f *metricsFlags) serve() (base string, stop func(), err error) {
	if !f.on() {
		return "", func() {}, nil
	}
	if f.m == nil {
		if err := f.attach(nil); err != nil {
			return "", nil, err
		}
	}
	srv := &http.Server{Handler: metrics.Handler(f.m, f.ready...), ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return "", nil, exitf(exitRefused, "--metrics-tls-cert: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return "", nil, exitf(exitRefused, "--metrics %q: %v", f.addr, err)
	}
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "fleetbook: metrics server:", err)
		}
	}()
	base = fmt.Sprintf("%s://%s", scheme, ln.Addr())
	fmt.Fprintf(os.Stderr, "metrics: %s%s\n", base, metrics.MetricsPath)
	return base, func() { _ = srv.Close() }, nil
}
