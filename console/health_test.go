package console

import (
	"net/http"
	"testing"
)

// /healthz answers while the process serves; /readyz once the API answers, without a session.
// A handler given WithHandler (the metrics) is served beside them.
func TestHealth(t *testing.T) {
	e := newEnv(t, WithHandler("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("fleetbook_up 1\n"))
	})))
	if r := e.get("/metrics", ""); r.status != http.StatusOK || r.body != "fleetbook_up 1\n" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/metrics: %d %q", r.status, r.body)
	}
	if r := e.get("/healthz", ""); r.status != http.StatusOK || r.body != "ok\n" {
		t.Errorf("/healthz: %d %q", r.status, r.body)
	}
	if r := e.get("/readyz", ""); r.status != http.StatusOK {
		t.Errorf("/readyz: %d %q", r.status, r.body)
	}
}
