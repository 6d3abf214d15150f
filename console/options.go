package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/nats-io/nkeys"
)

// Option configures a Console; it returns an error for a value it refuses.
type Option func(*options) error

type options struct {
	key nkeys.KeyPair
	log *slog.Logger
	// secureCookies marks the session cookie Secure even on plain HTTP requests: for a console
	// behind a proxy that terminates TLS.
	secureCookies bool
	// apiTimeout bounds each API call a page makes.
	apiTimeout time.Duration
	// nodePage caps the node rows one request of a run's node table returns.
	nodePage int
	// maxStreams caps the live streams open at once: each holds a consumer on the events stream.
	maxStreams int
	// publicOrigin is the origin people reach the console at through a proxy, accepted as the
	// Origin of a POST besides the one the request reached the console with.
	publicOrigin string
	// extra are handlers served beside the console's own, without a session (/metrics).
	extra []extraHandler
}

// extraHandler is one handler of WithHandler.
type extraHandler struct {
	pattern string
	h       http.Handler
}

func defaults() options {
	return options{log: slog.New(slog.DiscardHandler), apiTimeout: 15 * time.Second, nodePage: 5000, maxStreams: 1000}
}

func (o *options) validate() error {
	switch {
	case o.key == nil:
		return fmt.Errorf("%w: the console's identity key is required (WithIdentityKey): the coordinator only accepts a session grant on a request the console signed", ErrInvalidOption)
	case o.apiTimeout <= 0:
		return fmt.Errorf("%w: API timeout %v is not positive", ErrInvalidOption, o.apiTimeout)
	case o.nodePage < 1:
		return fmt.Errorf("%w: node page size %d is below 1", ErrInvalidOption, o.nodePage)
	case o.maxStreams < 1:
		return fmt.Errorf("%w: max live streams %d is below 1", ErrInvalidOption, o.maxStreams)
	}
	return nil
}

// WithIdentityKey is the console credential's key (role console, DATA-DIR/auth/console.creds):
// every API request the console makes is signed with it.
func WithIdentityKey(kp nkeys.KeyPair) Option {
	return func(o *options) error {
		if kp == nil {
			return errors.New("identity key must not be nil")
		}
		o.key = kp
		return nil
	}
}

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("logger must not be nil")
		}
		o.log = l
		return nil
	}
}

// WithSecureCookies marks the session cookie Secure on every response, for a console served
// over plain HTTP behind a proxy that terminates TLS. Under TLS the cookie is always Secure.
func WithSecureCookies() Option {
	return func(o *options) error { o.secureCookies = true; return nil }
}

// WithHandler serves h at pattern (an http.ServeMux pattern such as "GET /metrics") beside the
// console's pages, with the same security headers and without a session: for endpoints meant
// for machines, such as Prometheus metrics. A pattern that clashes with the console's panics
// when the console is made, as http.ServeMux does.
func WithHandler(pattern string, h http.Handler) Option {
	return func(o *options) error {
		if pattern == "" || h == nil {
			return errors.New("a handler needs a pattern and a handler")
		}
		o.extra = append(o.extra, extraHandler{pattern, h})
		return nil
	}
}

// WithPublicURL is the URL people reach the console at when a proxy stands in front of it
// (https://console.example.com): POSTs whose Origin is that URL's origin are accepted besides
// those of the address the proxy reaches the console at.
func WithPublicURL(raw string) Option {
	return func(o *options) error {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public URL %q is not an http or https URL with a host", raw)
		}
		o.publicOrigin = u.Scheme + "://" + u.Host
		return nil
	}
}

// WithMaxStreams caps the live run streams (server-sent events) the console serves at once
// (default 1000); one more is answered 503 and the browser tries again later.
func WithMaxStreams(n int) Option {
	return func(o *options) error { o.maxStreams = n; return nil }
}

// WithAPITimeout bounds each API call a page makes (default 15s).
func WithAPITimeout(d time.Duration) Option {
	return func(o *options) error { o.apiTimeout = d; return nil }
}

// WithNodePage caps the rows one request of a run's node table returns (default 5000).
func WithNodePage(n int) Option {
	return func(o *options) error { o.nodePage = n; return nil }
}
