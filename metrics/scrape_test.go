package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker"
	"github.com/fleetbook/fleetbook/worker/agent"
)

const (
	okBook = "name: scrape_ok\nversion: 1.0.0\nauthor: tests\ndescription: d\n" +
		"data_stores:\n  team: {type: kv}\nlocks:\n  - team\n" +
		"tasks:\n  - noop: {}\n  - shell:\n      command: \"true\"\n"
	failBook = "name: scrape_fail\nversion: 1.0.0\nauthor: tests\ndescription: d\n" +
		"tasks:\n  - shell:\n      command: \"exit 3\"\n      tries: 2\n      try_sleep: 0\n"
	// secretBook's input is sensitive: its value must appear nowhere in the metrics.
	secretBook = "name: scrape_secret\nversion: 1.0.0\nauthor: tests\ndescription: d\n" +
		"inputs:\n  token:\n    type: String\n    description: t\n    sensitive: true\n" +
		"tasks:\n  - shell:\n      command: echo \"$TOKEN\"\n      environment:\n        TOKEN: \"{{{ inputs.token }}}\"\n"
	secretValue = "s3cr3t-value-7781"
	schedBook   = "name: scrape_sched\nversion: 1.0.0\nauthor: tests\ndescription: d\ntasks:\n  - noop: {}\n"
	rpcBook     = "name: scrape_rpc\nversion: 1.0.0\nauthor: tests\ndescription: d\n" +
		"nodes:\n  all:\n    type: fleet\n    classes: [scrape]\n    at_least: 3\n" +
		"tasks:\n  - rpc:\n      action: rpcutil.ping\n      nodes: \"{{{ nodes.all }}}\"\n"
)

// readyz is the status and body of GET url/readyz.
func readyz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + metrics.ReadyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestScrapeCountsWhatRan: a real server, coordinator, worker and three simulated nodes with one
// Metrics; after two good runs, a failing one (one retry) and an rpc run, /metrics (parsed as
// Prometheus parses it) counts exactly those. /readyz is 503 before the coordinator and the
// worker are up and after their connection closes.
func TestScrapeCountsWhatRan(t *testing.T) {
	srv := natstest.RunServer(t)
	cnc, _ := natstest.Connect(t, srv.ClientURL())
	wnc, _ := natstest.Connect(t, srv.ClientURL())
	m, err := metrics.New(metrics.WithCluster(cnc))
	if err != nil {
		t.Fatal(err)
	}
	coord, err := coordinator.New(cnc, coordinator.WithMetrics(m), coordinator.WithLease(3*time.Second), coordinator.WithReconcile(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	wk, err := worker.New(wnc, worker.WithMetrics(m), worker.WithStore(kvstore.Config{}), worker.WithPool(protocol.DefaultPool))
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(metrics.Handler(m, coord, wk))
	defer web.Close()

	if code, body := readyz(t, web.URL); code != http.StatusServiceUnavailable || !strings.Contains(body, "not provisioned") {
		t.Fatalf("readyz before Run = %d %q, want 503 naming what is not provisioned", code, body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() {
		if err := coord.Run(ctx); err != nil {
			t.Errorf("coordinator: %v", err)
		}
	})
	wg.Go(func() {
		if err := wk.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	natstest.Eventually(t, 2*time.Minute, func() error {
		if code, body := readyz(t, web.URL); code != http.StatusOK {
			return fmt.Errorf("readyz %d %q", code, body)
		}
		return nil
	})

	fnc, _ := natstest.Connect(t, srv.ClientURL())
	nodes := []agent.Node{{Identity: "n1.scrape", Classes: []string{"scrape"}}, {Identity: "n2.scrape", Classes: []string{"scrape"}},
		{Identity: "n3.scrape", Classes: []string{"scrape"}}}
	fleet, err := agent.New(fnc, nodes, agent.WithAgentsDir("../examples/web-cluster/agents"), agent.WithStateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = fleet.Run(ctx) })
	select {
	case <-fleet.Ready():
	case <-time.After(2 * time.Minute):
		t.Fatal("fleet not ready")
	}

	client, err := coordinator.NewClient(fnc)
	if err != nil {
		t.Fatal(err)
	}
	run := func(doc string, want protocol.RunStatus, inputs ...any) {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
		defer rcancel()
		given := map[string]any{}
		for i := 0; i+1 < len(inputs); i += 2 {
			given[inputs[i].(string)] = inputs[i+1]
		}
		resp, err := client.Submit(rctx, protocol.SubmitRequest{Version: protocol.SubmitVersion, Playbook: doc, Inputs: given,
			IdempotencyKey: fmt.Sprintf("scrape-%d", time.Now().UnixNano())})
		if err != nil {
			t.Fatal(err)
		}
		r, err := client.Follow(rctx, resp.RunID, time.Second, func(protocol.Event) {})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != want {
			t.Fatalf("run of %.30q: %s (%s), want %s", doc, r.Status, r.Error, want)
		}
	}
	run(okBook, protocol.StatusSuccess)
	run(okBook, protocol.StatusSuccess)
	run(failBook, protocol.StatusFailed)
	run(rpcBook, protocol.StatusSuccess)
	run(secretBook, protocol.StatusSuccess, "token", secretValue)

	sctx, scancel := context.WithTimeout(ctx, 2*time.Minute)
	defer scancel()
	if _, err := client.AddSchedule(sctx, protocol.ScheduleAddRequest{Version: protocol.ScheduleVersion, Name: "scrape",
		Playbook: schedBook, Spec: protocol.ScheduleSpec{Every: "24h"}}); err != nil {
		t.Fatal(err)
	}
	fired, err := client.TriggerSchedule(sctx, "scrape", "now")
	if err != nil || len(fired.Slots) != 1 || fired.Slots[0].RunID == "" {
		t.Fatalf("trigger: %+v, %v", fired, err)
	}
	if r, err := client.Follow(sctx, fired.Slots[0].RunID, time.Second, func(protocol.Event) {}); err != nil || r.Status != protocol.StatusSuccess {
		t.Fatalf("scheduled run: %v %v", r, err)
	}

	// A run's report shows its final status once that is stored; the counts follow at once, and
	// a worker's own after it published the result: the scrape is polled until they hold (a
	// count that went past what ran never comes back down to it).
	want := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.RunsSubmitted, map[string]string{"playbook": "scrape_ok"}, 2},
		{metrics.RunsSubmitted, map[string]string{"playbook": "scrape_fail"}, 1},
		{metrics.RunsStarted, map[string]string{"playbook": "scrape_ok"}, 2},
		{metrics.RunsFinished, map[string]string{"playbook": "scrape_ok", "status": "success"}, 2},
		{metrics.RunsFinished, map[string]string{"playbook": "scrape_fail", "status": "failed"}, 1},
		{metrics.RunsFinished, map[string]string{"playbook": "scrape_rpc", "status": "success"}, 1},
		{metrics.RunDuration, map[string]string{"status": "success"}, 5},
		{metrics.ScheduleSlots, map[string]string{"outcome": "fired"}, 1},
		{metrics.RunsSubmitted, map[string]string{"playbook": "scrape_sched"}, 1},
		{metrics.LockWaits, map[string]string{"outcome": "acquired"}, 2},
		{metrics.LockWait, map[string]string{}, 2},
		{metrics.RunDuration, map[string]string{"status": "failed"}, 1},
		{metrics.StepDuration, map[string]string{"type": "noop", "outcome": "success"}, 3},
		{metrics.StepDuration, map[string]string{"type": "shell", "outcome": "success"}, 3},
		{metrics.StepDuration, map[string]string{"type": "shell", "outcome": "failed"}, 1},
		{metrics.StepDuration, map[string]string{"type": "rpc", "outcome": "success"}, 1},
		{metrics.StepRetries, map[string]string{"type": "shell"}, 1},
		{metrics.WorkerJobs, map[string]string{"pool": "default", "type": "shell", "outcome": "failed"}, 2},
		{metrics.WorkerJobsRunning, map[string]string{"pool": "default"}, 0},
		{metrics.NodeReplies, map[string]string{"outcome": metrics.NodeOK}, 3},
		{metrics.RPCLatency, map[string]string{}, 3},
		{metrics.JobsQueued, map[string]string{"pool": "default"}, 0},
		{metrics.Coordinators, map[string]string{}, 1},
		{metrics.Workers, map[string]string{"pool": "default"}, 1},
		{metrics.ClusterUp, map[string]string{}, 1},
	}
	var got []sample
	natstest.Eventually(t, time.Minute, func() error {
		got = scrape(t, web.URL+metrics.MetricsPath)
		for _, c := range want {
			if v, ok := value(got, c.name, c.labels); !ok || v != c.want {
				return fmt.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
			}
		}
		return nil
	})
	if _, ok := value(got, "process_cpu_seconds_total", map[string]string{}); !ok {
		t.Errorf("no process collector in the scrape")
	}
	if code, page := get(t, web.URL+metrics.MetricsPath); code != http.StatusOK || strings.Contains(page, secretValue) || strings.Contains(page, "s3cr3t") {
		t.Errorf("/metrics (%d) shows a sensitive input's value", code)
	}

	cnc.Close()
	if code, body := readyz(t, web.URL); code != http.StatusServiceUnavailable || !strings.Contains(body, "nats connection closed") {
		t.Errorf("readyz after the coordinator's connection closed = %d %q, want 503 naming it", code, body)
	}
}
