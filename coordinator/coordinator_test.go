package coordinator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
)

func TestNewValidates(t *testing.T) {
	s := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, s.ClientURL())
	if _, err := New(nil); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "connection") {
		t.Errorf("New(nil): got %v, want ErrInvalidOption naming the connection", err)
	}
	if _, err := NewClient(nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("NewClient(nil): got %v, want ErrInvalidOption", err)
	}
	for _, tc := range []struct {
		name string
		opt  Option
		// names is what the error must say, to name the option.
		names string
	}{
		{"nil option", nil, "Option"},
		{"empty name", WithName(""), "name"},
		{"nil logger", WithLogger(nil), "logger"},
		{"tiny lease", WithLease(time.Millisecond), "lease"},
		{"zero reconcile", WithReconcile(0), "reconcile"},
		{"negative reconcile", WithReconcile(-time.Second), "reconcile"},
		{"zero max runs", WithMaxRuns(0), "max runs"},
		{"zero rpc chunk", WithRPCChunk(0), "rpc chunk"},
		{"negative keep-runs", WithKeepRuns(-time.Second), "keep-runs"},
		{"short secrets key", WithSecretsKey(make([]byte, 16)), "secrets key"},
		{"short retired secrets key", WithSecretsKey(make([]byte, 32), make([]byte, 31)), "secrets key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nc, tc.opt)
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("got %v, want ErrInvalidOption", err)
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Errorf("error %q does not name %q", err, tc.names)
			}
		})
	}
	c, err := New(nc)
	if err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if c.Name() == "" || c.opts.log == nil || c.opts.keepRuns != DefaultKeepRuns || c.opts.maxRuns != 1000 {
		t.Errorf("unexpected defaults: %+v", c.opts)
	}
	// Zero keep-runs is valid: it keeps runs for ever.
	if _, err := New(nc, WithKeepRuns(0)); err != nil {
		t.Errorf("WithKeepRuns(0) refused: %v", err)
	}
}
