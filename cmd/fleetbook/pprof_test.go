package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPprofHandlerServesProfilesOnly(t *testing.T) {
	srv := httptest.NewServer(pprofHandler())
	defer srv.Close()
	for _, tc := range []struct {
		path     string
		status   int
		contains string
	}{
		{"/debug/pprof/", http.StatusOK, "goroutine"},
		{"/debug/pprof/goroutine?debug=1", http.StatusOK, "goroutine profile"},
		{"/debug/pprof/cmdline", http.StatusOK, ""},
		{"/", http.StatusNotFound, ""},
		{"/debug/vars", http.StatusNotFound, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("GET %s: body does not mention %q", tc.path, tc.contains)
			}
		})
	}
}

func TestStartPprofEmptyAddrServesNothing(t *testing.T) {
	stop, err := startPprof("")
	if err != nil {
		t.Fatal(err)
	}
	stop()
}

func TestStartPprofRefusesBadAddr(t *testing.T) {
	if _, err := startPprof("not an address"); err == nil {
		t.Fatal("want an error for an address that cannot be listened on")
	}
}
