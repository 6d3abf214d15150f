package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// pprofFlag registers --pprof on a long-running command.
func pprofFlag(cmd *cobra.Command, addr *string) {
	cmd.Flags().StringVar(addr, "pprof", "", "serve Go profiles (net/http/pprof) on HOST:PORT, e.g. 127.0.0.1:6060; off by default")
}

// startPprof serves the runtime profiles on addr, on a mux of its own so nothing else is ever
// exposed there. An empty addr serves nothing. stop closes the listener.
func startPprof(addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, exitf(exitRefused, "--pprof %q: %v", addr, err)
	}
	srv := &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "fleetbook: pprof server:", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "fleetbook: profiles on http://%s/debug/pprof/\n", ln.Addr())
	return func() { _ = srv.Close() }, nil
}

// pprofHandler serves the runtime profiles under /debug/pprof/ and nothing else.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
