package console

import (
	"net/http"
	"testing"
)

// /healthz answers while the process serves; /readyz once the API answers, without a session.
func TestHealth(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/healthz", ""); r.status != http.StatusOK || r.body != "ok\n" {
		t.Errorf("/healthz: %d %q", r.status, r.body)
	}
	if r := e.get("/readyz", ""); r.status != http.StatusOK {
		t.Errorf("/readyz: %d %q", r.status, r.body)
	}
}
