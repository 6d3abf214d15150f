package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRunMeasuresEveryBenchmark runs the whole suite with tiny samples: every measurable
// benchmark has a positive figure and baseline and the ratio between them, and every other one
// is named in the notes instead of given a value.
func TestRunMeasuresEveryBenchmark(t *testing.T) {
	tiny := &plan{
		warmup:     2,
		latency:    limit{n: 5},
		rawLatency: limit{n: 5},
		steps:      limit{n: 20},
		rawSteps:   limit{n: 200},
		inflight:   4, rawWindow: 50, rawWorkers: 2,
		kv:          limit{n: 20},
		rawKV:       limit{n: 20},
		fanoutNodes: 20, fanoutRuns: 1,
		rssSmall: 5, rssLarge: 20,
		crowd: 4, crowdLatency: limit{n: 12},
		oneShots:  1,
		longShort: 3, longLong: 12, longRuns: 2, longInflight: 2,
		longFanoutNodes: 30,
	}
	rep, err := Run(context.Background(), Config{Dir: t.TempDir(), plan: tiny, Long: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range rep.Benchmarks {
		names = append(names, b.Name)
		if b.Value <= 0 || b.Baseline <= 0 {
			t.Errorf("%s: value %v, baseline %v: both must be measured", b.Name, b.Value, b.Baseline)
		}
		if want := b.Value / b.Baseline; b.Ratio != want {
			t.Errorf("%s: ratio %v, want value/baseline %v", b.Name, b.Ratio, want)
		}
	}
	want := []string{"step_latency_p50", "step_latency_p99", "steps_per_second", "steps_per_second_10_step_runs",
		"steps_per_second_vs_protocol", "steps_per_second_10_step_runs_vs_protocol",
		"step_latency_p50_100_in_flight", "step_latency_p99_100_in_flight", "run_record_kv_ops_per_second", "kv_store_ops_per_second",
		"fanout_10k_seconds", "steps_per_second_1000_step_runs", "per_step_growth_1000_vs_100", "fanout_100k_seconds"}
	if !slices.Equal(names, want) {
		t.Errorf("benchmarks %v, want %v", names, want)
	}
	notes := strings.Join(rep.Notes, "\n")
	for _, missing := range []string{"coordinator_rss_ratio_10k_vs_1k", "embedded_one_shot_seconds"} {
		if slices.Contains(names, missing) || !strings.Contains(notes, missing+": not measured") {
			t.Errorf("%s must be named as not measured, not given a value; notes:\n%s", missing, notes)
		}
	}
}

func TestWriteJSONShape(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  Report
		want string
	}{
		{"empty", Report{Notes: []string{"not in the JSON"}}, `{"benchmarks":[]}`},
		{"one", Report{Benchmarks: []Result{newResult("steps_per_second", "steps/s", 50, 100)}},
			`{"benchmarks":[{"name":"steps_per_second","value":50,"unit":"steps/s","baseline":100,"ratio":0.5}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.rep.WriteJSON(&buf); err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, buf.Bytes()); err != nil {
				t.Fatal(err)
			}
			if compact.String() != tc.want {
				t.Errorf("got %s, want %s", compact.String(), tc.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of unsorted", ms(5, 1, 3, 2, 4), 50, 3 * time.Millisecond},
		{"p99 of 1..100 is 99", ms(oneTo(100)...), 99, 99 * time.Millisecond},
		{"p50 of 1..100 is 50", ms(oneTo(100)...), 50, 50 * time.Millisecond},
		{"p100 is the max", ms(1, 9, 2), 100, 9 * time.Millisecond},
		{"p0 is the min", ms(4, 9, 2), 0, 2 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.samples, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.samples, tc.p, got, tc.want)
			}
		})
	}
}

func oneTo(n int) []int {
	var s []int
	for i := n; i >= 1; i-- {
		s = append(s, i)
	}
	return s
}

func TestRatioOfZeroBaselineIsZero(t *testing.T) {
	if r := newResult("x", "ms", 3, 0); r.Ratio != 0 {
		t.Errorf("ratio %v with no baseline, want 0", r.Ratio)
	}
}

// TestCoordinatorRSS runs the coordinator-memory benchmark with a real coordinator process (the
// fleetbook binary, built here) and a small fleet: both steps complete and give peak RSS values.
func TestCoordinatorRSS(t *testing.T) {
	command := buildFleetbook(t)
	samples, err := coordinatorRSS(context.Background(), command, false, 5, 20, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 2 || samples[0].targets != 5 || samples[1].targets != 20 {
		t.Fatalf("samples %+v, want one for 5 and one for 20 targets", samples)
	}
	for _, s := range samples {
		if s.idle <= 0 || s.peak < s.idle || s.record <= 0 {
			t.Errorf("%d targets: idle %d, peak %d, record %d bytes: want 0 < idle <= peak and a record", s.targets, s.idle, s.peak, s.record)
		}
	}
	res, note := rssResult(samples)
	if res.Name != "coordinator_rss_ratio_10k_vs_1k" || res.Baseline != 1 || res.Value <= 0 || !strings.Contains(note, "20 nodes") {
		t.Errorf("result %+v, note %q", res, note)
	}
}

// TestOnlyMeasuresTheGroupsNamed: Config.Only leaves out every other group, the long runs are
// named as not measured without Config.Long, and an unknown group is refused by name.
func TestOnlyMeasuresTheGroupsNamed(t *testing.T) {
	tiny := &plan{warmup: 2, steps: limit{n: 20}, rawSteps: limit{n: 200}, inflight: 4, rawWindow: 50, rawWorkers: 2}
	rep, err := Run(context.Background(), Config{Dir: t.TempDir(), plan: tiny, Only: []string{"throughput", "long"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range rep.Benchmarks {
		names = append(names, b.Name)
	}
	if want := []string{"steps_per_second", "steps_per_second_10_step_runs", "steps_per_second_vs_protocol",
		"steps_per_second_10_step_runs_vs_protocol"}; !slices.Equal(names, want) {
		t.Errorf("benchmarks %v, want %v", names, want)
	}
	if notes := strings.Join(rep.Notes, "\n"); !strings.Contains(notes, "steps_per_second_1000_step_runs, per_step_growth_1000_vs_100: not measured") {
		t.Errorf("the long runs must be named as not measured; notes:\n%s", notes)
	}
	if _, err := Run(context.Background(), Config{Dir: t.TempDir(), plan: tiny, Only: []string{"latencyy"}}); err == nil || !strings.Contains(err.Error(), `"latencyy"`) {
		t.Errorf("unknown group: err %v, want one naming it", err)
	}
}

// TestOneShot spawns the fleetbook binary (built here) for whole one-shot runs: the figure and
// its baseline are measured.
func TestOneShot(t *testing.T) {
	command := buildFleetbook(t)
	res, note, err := oneShot(context.Background(), command[:1], 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "embedded_one_shot_seconds" || res.Value <= 0 || res.Baseline <= 0 || !strings.Contains(note, "median of 1") {
		t.Errorf("result %+v, note %q", res, note)
	}
}
