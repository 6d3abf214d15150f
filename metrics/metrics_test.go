package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
)

func TestPlaybookLabelIsCapped(t *testing.T) {
	m, err := metrics.New(metrics.WithMaxPlaybooks(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, pb := range []string{"a", "b", "c", "d", "a"} {
		m.RunSubmitted(pb)
	}
	got := gather(t, m)
	for pb, want := range map[string]float64{"a": 2, "b": 1, metrics.OtherPlaybook: 2} {
		if v, _ := value(got, metrics.RunsSubmitted, map[string]string{"playbook": pb}); v != want {
			t.Errorf("submitted{playbook=%q} = %v, want %v", pb, v, want)
		}
	}
	if _, ok := value(got, metrics.RunsSubmitted, map[string]string{"playbook": "c"}); ok {
		t.Errorf("playbook c past the cap has a series of its own")
	}
}

func TestRecordingOnNilMetricsDoesNothing(t *testing.T) {
	var m *metrics.Metrics
	m.RunSubmitted("x")
	m.RunStarted("x")
	m.RunFinished("x", protocol.StatusSuccess, time.Second)
	m.StepFinished("shell", true, time.Second)
	m.StepRetried("shell")
	m.JobStarted("default")
	m.JobEnded("default")
	m.JobRan("default", "shell", true)
	m.NodeReplied(metrics.NodeOK, time.Millisecond)
	m.ScheduleSlots(protocol.SlotFired, 1)
	m.LockWaited(true, time.Second)
}

func TestRecordedValues(t *testing.T) {
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	m.RunFinished("deploy", protocol.StatusFailed, 2*time.Second)
	m.StepFinished("shell", false, time.Second)
	m.StepRetried("shell")
	m.JobStarted("p")
	m.JobStarted("p")
	m.JobEnded("p")
	m.NodeReplied(metrics.NodeOK, time.Millisecond)
	m.NodeReplied(metrics.NodeNoReply, 0)
	m.ScheduleSlots(protocol.SlotMissed, 3)
	m.LockWaited(false, time.Second)
	got := gather(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.RunsFinished, map[string]string{"playbook": "deploy", "status": "failed"}, 1},
		{metrics.RunDuration, map[string]string{"status": "failed"}, 1},
		{metrics.StepDuration, map[string]string{"type": "shell", "outcome": "failed"}, 1},
		{metrics.StepRetries, map[string]string{"type": "shell"}, 1},
		{metrics.WorkerJobsRunning, map[string]string{"pool": "p"}, 1},
		{metrics.NodeReplies, map[string]string{"outcome": metrics.NodeOK}, 1},
		{metrics.NodeReplies, map[string]string{"outcome": metrics.NodeNoReply}, 1},
		{metrics.RPCLatency, map[string]string{}, 1}, // the node that did not reply has no latency
		{metrics.ScheduleSlots, map[string]string{"outcome": "missed"}, 3},
		{metrics.LockWaits, map[string]string{"outcome": "failed"}, 1},
		{metrics.LockWait, map[string]string{}, 1},
	} {
		if v, ok := value(got, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if _, ok := value(got, "go_goroutines", map[string]string{}); !ok {
		t.Errorf("no Go runtime collector")
	}
}

func TestOptionsRefused(t *testing.T) {
	for name, opts := range map[string][]metrics.Option{
		"nil connection":          {metrics.WithCluster(nil)},
		"zero scrape timeout":     {metrics.WithScrapeTimeout(0)},
		"zero max playbooks":      {metrics.WithMaxPlaybooks(0)},
		"wait longer than scrape": {metrics.WithScrapeTimeout(time.Second), metrics.WithDiscoveryWait(2 * time.Second)},
		"nil option":              {nil},
	} {
		if _, err := metrics.New(opts...); !errors.Is(err, metrics.ErrInvalidOption) {
			t.Errorf("%s: New = %v, want metrics.ErrInvalidOption", name, err)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealthAndReadiness(t *testing.T) {
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	var broken error
	srv := httptest.NewServer(metrics.Handler(m,
		metrics.ReadyFunc(func(context.Context) error { return nil }),
		metrics.ReadyFunc(func(context.Context) error { return broken })))
	defer srv.Close()

	if code, body := get(t, srv.URL+metrics.HealthPath); code != 200 || body != "ok\n" {
		t.Errorf("healthz = %d %q", code, body)
	}
	if code, body := get(t, srv.URL+metrics.ReadyPath); code != 200 || body != "ready\n" {
		t.Errorf("readyz = %d %q, want 200 ready", code, body)
	}
	broken = fmt.Errorf("%w: streams not provisioned", metrics.ErrNotReady)
	if code, body := get(t, srv.URL+metrics.ReadyPath); code != 503 || !strings.Contains(body, "streams not provisioned") {
		t.Errorf("readyz with a failing check = %d %q, want 503 naming it", code, body)
	}
	m.RunSubmitted("hello")
	if code, body := get(t, srv.URL+metrics.MetricsPath); code != 200 || !strings.Contains(body, metrics.RunsSubmitted+`{playbook="hello"} 1`) {
		t.Errorf("metrics = %d, without the counter:\n%s", code, body)
	}
	if code, _ := get(t, srv.URL+"/other"); code != 404 {
		t.Errorf("/other = %d, want 404", code)
	}
	// The endpoints only read: a stranger's write is refused, whatever the path.
	for _, path := range []string{metrics.MetricsPath, metrics.HealthPath, metrics.ReadyPath} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", method, path, resp.StatusCode)
			}
		}
	}
	if metrics.ConnectionReady(nil) == nil {
		t.Errorf("a nil connection is ready")
	}
}
