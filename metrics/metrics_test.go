package metrics

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

	"github.com/fleetbook/fleetbook/protocol"
)

func TestPlaybookLabelIsCapped(t *testing.T) {
	m, err := New(WithMaxPlaybooks(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, pb := range []string{"a", "b", "c", "d", "a"} {
		m.RunSubmitted(pb)
	}
	got := gather(t, m)
	for pb, want := range map[string]float64{"a": 2, "b": 1, OtherPlaybook: 2} {
		if v, _ := value(got, RunsSubmitted, map[string]string{"playbook": pb}); v != want {
			t.Errorf("submitted{playbook=%q} = %v, want %v", pb, v, want)
		}
	}
	if _, ok := value(got, RunsSubmitted, map[string]string{"playbook": "c"}); ok {
		t.Errorf("playbook c past the cap has a series of its own")
	}
}

func TestRecordingOnNilMetricsDoesNothing(t *testing.T) {
	var m *Metrics
	m.RunSubmitted("x")
	m.RunStarted("x")
	m.RunFinished("x", protocol.StatusSuccess, time.Second)
	m.StepFinished("shell", true, time.Second)
	m.StepRetried("shell")
	m.JobStarted("default")
	m.JobEnded("default")
	m.JobRan("default", "shell", true)
	m.NodeReplied(NodeOK, time.Millisecond)
	m.ScheduleSlots(protocol.SlotFired, 1)
	m.LockWaited(true, time.Second)
}

func TestRecordedValues(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	m.RunFinished("deploy", protocol.StatusFailed, 2*time.Second)
	m.StepFinished("shell", false, time.Second)
	m.StepRetried("shell")
	m.JobStarted("p")
	m.JobStarted("p")
	m.JobEnded("p")
	m.NodeReplied(NodeOK, time.Millisecond)
	m.NodeReplied(NodeNoReply, 0)
	m.ScheduleSlots(protocol.SlotMissed, 3)
	m.LockWaited(false, time.Second)
	got := gather(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{RunsFinished, map[string]string{"playbook": "deploy", "status": "failed"}, 1},
		{RunDuration, map[string]string{"status": "failed"}, 1},
		{StepDuration, map[string]string{"type": "shell", "outcome": "failed"}, 1},
		{StepRetries, map[string]string{"type": "shell"}, 1},
		{WorkerJobsRunning, map[string]string{"pool": "p"}, 1},
		{NodeReplies, map[string]string{"outcome": NodeOK}, 1},
		{NodeReplies, map[string]string{"outcome": NodeNoReply}, 1},
		{RPCLatency, map[string]string{}, 1}, // the node that did not reply has no latency
		{ScheduleSlots, map[string]string{"outcome": "missed"}, 3},
		{LockWaits, map[string]string{"outcome": "failed"}, 1},
		{LockWait, map[string]string{}, 1},
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
	for name, opts := range map[string][]Option{
		"nil connection":          {WithCluster(nil)},
		"zero scrape timeout":     {WithScrapeTimeout(0)},
		"zero max playbooks":      {WithMaxPlaybooks(0)},
		"wait longer than scrape": {WithScrapeTimeout(time.Second), WithDiscoveryWait(2 * time.Second)},
		"nil option":              {nil},
	} {
		if _, err := New(opts...); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: New = %v, want ErrInvalidOption", name, err)
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
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var broken error
	srv := httptest.NewServer(Handler(m,
		ReadyFunc(func(context.Context) error { return nil }),
		ReadyFunc(func(context.Context) error { return broken })))
	defer srv.Close()

	if code, body := get(t, srv.URL+HealthPath); code != 200 || body != "ok\n" {
		t.Errorf("healthz = %d %q", code, body)
	}
	if code, body := get(t, srv.URL+ReadyPath); code != 200 || body != "ready\n" {
		t.Errorf("readyz = %d %q, want 200 ready", code, body)
	}
	broken = fmt.Errorf("%w: streams not provisioned", ErrNotReady)
	if code, body := get(t, srv.URL+ReadyPath); code != 503 || !strings.Contains(body, "streams not provisioned") {
		t.Errorf("readyz with a failing check = %d %q, want 503 naming it", code, body)
	}
	m.RunSubmitted("hello")
	if code, body := get(t, srv.URL+MetricsPath); code != 200 || !strings.Contains(body, RunsSubmitted+`{playbook="hello"} 1`) {
		t.Errorf("metrics = %d, without the counter:\n%s", code, body)
	}
	if code, _ := get(t, srv.URL+"/other"); code != 404 {
		t.Errorf("/other = %d, want 404", code)
	}
	if ConnectionReady(nil) == nil {
		t.Errorf("a nil connection is ready")
	}
}
