package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/metrics"
)

// dashboardPath is the example Grafana dashboard, kept in step with the metrics by this test.
const dashboardPath = "../examples/grafana/fleetbook.json"

// dashboard is what the test reads of a Grafana dashboard: its panels and their queries.
type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// metricName finds the metric names a PromQL expression uses: ours, and the Go and process
// collectors'.
var metricName = regexp.MustCompile(`\b(?:fleetbook|go|process)_[a-z_]+\b`)

// exported lists every metric fleetbook exports: the names a Metrics with the cluster gauges
// registers (with the series of histograms) and what the Go and process collectors gather.
func exported(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, n := range allNames(t) {
		names = append(names, n, n+"_bucket", n+"_sum", n+"_count")
	}
	plain, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range gather(t, plain) {
		if !strings.HasPrefix(s.name, "fleetbook_") {
			names = append(names, s.name)
		}
	}
	return names
}

// allNames is every fleetbook metric name, the cluster gauges included (named only: the
// connection is never used, nothing is gathered).
func allNames(t *testing.T) []string {
	t.Helper()
	m, err := metrics.New(metrics.WithCluster(&nats.Conn{}))
	if err != nil {
		t.Fatal(err)
	}
	return m.Names()
}

// TestDashboardQueriesOnlyExportedMetrics: every metric the example dashboard queries is one the
// registry exports, so the dashboard cannot drift from the code; and it shows every fleetbook
// metric.
func TestDashboardQueriesOnlyExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardPath, err)
	}
	known := exported(t)
	used := map[string]bool{}
	queries := 0
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				if !slices.Contains(known, name) {
					t.Errorf("panel %q queries %s, which fleetbook does not export", p.Title, name)
				}
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] = true
			}
		}
	}
	if queries == 0 {
		t.Fatalf("%s has no queries", dashboardPath)
	}
	for _, n := range allNames(t) {
		if !used[n] {
			t.Errorf("the dashboard shows no panel of %s", n)
		}
	}
}
