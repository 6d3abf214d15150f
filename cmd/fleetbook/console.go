package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/console"
	"github.com/fleetbook/fleetbook/coordinator"
)

// defaultConsoleAddr is where the console listens unless told: this machine only.
const defaultConsoleAddr = "127.0.0.1:8080"

// httpFlags say where the console listens and how.
type httpFlags struct {
	addr             string
	tlsCert, tlsKey  string
	insecure, secure bool
	// publicURL is where people reach the console through a proxy.
	publicURL string
}

// check refuses an address that is not HOST:PORT, and one other machines reach without TLS
// unless insecure; it says whether the console serves TLS.
func (h *httpFlags) check() (bool, error) {
	host, _, err := net.SplitHostPort(h.addr)
	if err != nil {
		return false, exitf(exitRefused, "--http %q: %v", h.addr, err)
	}
	useTLS := h.tlsCert != "" || h.tlsKey != ""
	if useTLS && (h.tlsCert == "" || h.tlsKey == "") {
		return false, exitf(exitRefused, "--tls-cert and --tls-key go together")
	}
	if !useTLS && !loopback(host) && !h.insecure {
		return false, exitf(exitRefused, "--http %s is reachable from other machines: serve TLS (--tls-cert, --tls-key) or say --insecure (the session cookie would cross the network in clear)", h.addr)
	}
	return useTLS, nil
}

// listen opens the console's listener (check first): TLS with the certificate and key given.
func (h *httpFlags) listen() (net.Listener, bool, error) {
	useTLS, err := h.check()
	if err != nil {
		return nil, false, err
	}
	var cfg *tls.Config
	if useTLS {
		cert, err := tls.LoadX509KeyPair(h.tlsCert, h.tlsKey)
		if err != nil {
			return nil, false, exitf(exitRefused, "console TLS: %v", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", h.addr)
	if err != nil {
		return nil, false, exitf(exitRefused, "--http %s: %v", h.addr, err)
	}
	if cfg != nil {
		l = tls.NewListener(l, cfg)
	}
	return l, useTLS, nil
}

// servingConsole is a console serving on its listener.
type servingConsole struct {
	url     string
	done    chan error
	console *console.Console
}

// awaitReady waits until the console is ready (its /readyz), for at most apiStartTimeout.
func (s *servingConsole) awaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, apiStartTimeout)
	defer cancel()
	for {
		err := s.console.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("console not ready after %v: %w", apiStartTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startConsole serves the console on nc, signed with key, on the listener of h, until ctx ends;
// extra are more options (console.WithHandler for the metrics, say).
func startConsole(ctx context.Context, nc *nats.Conn, key nkeys.KeyPair, h *httpFlags, log *slog.Logger, extra ...console.Option) (*servingConsole, error) {
	opts := append([]console.Option{console.WithIdentityKey(key), console.WithLogger(log)}, extra...)
	if h.secure {
		opts = append(opts, console.WithSecureCookies())
	}
	if h.publicURL != "" {
		opts = append(opts, console.WithPublicURL(h.publicURL))
	}
	c, err := console.New(nc, opts...)
	if err != nil {
		return nil, exitf(exitRefused, "console: %v", err)
	}
	l, useTLS, err := h.listen()
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	s := &servingConsole{url: localURL(scheme + "://" + l.Addr().String()), done: make(chan error, 1), console: c}
	go func() { s.done <- c.Serve(ctx, l) }()
	return s, nil
}

func consoleCommand() *cobra.Command {
	var (
		conn connFlags
		h    httpFlags
	)
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Serve the web console against an existing NATS server",
		Long: `Serve the web console (docs/console.md) on --http, connected to the NATS server with the
console credential (role console: DATA-DIR/auth/creds/console.creds, or the credential flags). It reads
through the API and the events stream only, so any number of consoles may run. People sign in
with the URL ` + "`fleetbook console login`" + ` prints; the console then acts for them, within what the
policy lets them do. A --http address other machines reach needs --tls-cert and --tls-key, or
--insecure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if _, err := h.check(); err != nil {
				return err
			}
			nc, err := conn.dial("fleetbook console")
			if errors.Is(err, errBadContext) {
				return exitf(exitRefused, "%v", err)
			}
			if err != nil {
				return exitf(exitInfra, "connect to NATS: %v", err)
			}
			defer nc.Close()
			key := conn.key
			if key == nil {
				if !conn.noAuth {
					return exitf(exitRefused, "the console signs every request it carries a sign-in for: give it a credential with a key (--creds DATA-DIR/auth/console.creds, --nkey, --context, or --data-dir)")
				}
				if key, err = nkeys.CreateUser(); err != nil {
					return exitf(exitInfra, "%v", err)
				}
			}
			s, err := startConsole(ctx, nc, key, &h, logger(true))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "console: %s\n", s.url)
			if err := <-s.done; err != nil && ctx.Err() == nil {
				return exitf(exitInfra, "console: %v", err)
			}
			return nil
		},
	}
	conn.registerRemote(cmd, auth.RoleConsole)
	h.register(cmd)
	cmd.Flags().StringVar(&h.tlsCert, "tls-cert", "", "serve HTTPS with this certificate file")
	cmd.Flags().StringVar(&h.tlsKey, "tls-key", "", "the key file of --tls-cert")
	cmd.Flags().BoolVar(&h.insecure, "insecure", false, "allow --http on an address other machines reach without TLS")
	cmd.Flags().BoolVar(&h.secure, "secure-cookies", false, "mark the session cookie Secure on plain HTTP too (behind a proxy that terminates TLS)")
	cmd.Flags().StringVar(&h.publicURL, "public-url", "", "the URL people reach the console at through a proxy (its origin may post too)")
	cmd.AddCommand(consoleLoginCommand())
	return cmd
}

// register adds --http.
func (h *httpFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&h.addr, "http", defaultConsoleAddr, "address the console listens on (HOST:PORT; port 0 picks a free one)")
}

// upConsole serves the console inside `fleetbook up` on the embedded server, with the console
// credential of the data dir, and prints its sign-in URL, signed with the operator's key
// (12h), as console login would. With --no-auth both keys are made for the process. extra are
// passed to startConsole.
func upConsole(ctx context.Context, e *embedded, h *httpFlags, extra ...console.Option) (*servingConsole, error) {
	nc, err := e.dial("fleetbook console", auth.RoleConsole)
	if err != nil {
		return nil, exitf(exitInfra, "console: %v", err)
	}
	var key, operator nkeys.KeyPair
	if e.setup != nil {
		if key, err = auth.UserKey(e.setup.CredsPath(auth.RoleConsole)); err == nil {
			operator, err = auth.UserKey(e.setup.CredsPath(auth.RoleOperator))
		}
	} else if key, err = nkeys.CreateUser(); err == nil {
		operator, err = nkeys.CreateUser()
	}
	if err != nil {
		return nil, exitf(exitInfra, "console: %v", err)
	}
	s, err := startConsole(ctx, nc, key, h, logger(true), extra...)
	if err != nil {
		return nil, err
	}
	// The sign-in line says the console works: it is printed once the API answers.
	if err := s.awaitReady(ctx); err != nil {
		return nil, exitf(exitInfra, "%v", err)
	}
	grant, err := coordinator.NewSessionGrant(operator, defaultSignInLifetime, time.Now())
	if err != nil {
		return nil, exitf(exitInfra, "console: %v", err)
	}
	fmt.Fprintf(os.Stderr, "console: %s/signin#grant=%s\n", s.url, grant)
	return s, nil
}
