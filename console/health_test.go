package console

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/internal/natstest"
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
	if r := e.get("/healthz", ""); r.status != http.StatusOK || r.body != "ok" {
		t.Errorf("/healthz: %d %q", r.status, r.body)
	}
	if r := e.get("/readyz", ""); r.status != http.StatusOK {
		t.Errorf("/readyz: %d %q", r.status, r.body)
	}
}

// /readyz answers 503 saying what is missing while no coordinator has provisioned the streams
// or answers the API; /healthz still answers.
func TestNotReadyWithoutCoordinator(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, srv.ClientURL())
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(nc, WithIdentityKey(kp))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/readyz": http.StatusServiceUnavailable, "/healthz": http.StatusOK} {
		rec := httptest.NewRecorder()
		c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want || path == "/readyz" && !strings.Contains(rec.Body.String(), "events stream") {
			t.Errorf("%s: %d %q, want %d", path, rec.Code, rec.Body.String(), want)
		}
	}
	if _, err := New(nc); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("a console without its key: %v", err)
	}
}
