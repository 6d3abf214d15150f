package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
)

// The Benchmark functions measure the same things as `fleetbook bench`, one figure each, so
// regressions show with go test -bench and benchstat. Each starts its own embedded server (file
// storage under b.TempDir) in both sync modes.

var syncModes = []struct {
	name   string
	always bool
}{{"sync=default", false}, {"sync=always", true}}

// benchEnv starts a server for one benchmark.
func benchEnv(b *testing.B, always bool) *Env {
	b.Helper()
	e, err := StartEnv(b.TempDir(), always)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	return e
}

// benchStack starts fleetbook on a server and warms it up.
func benchStack(b *testing.B, always bool) (*Env, *Stack) {
	return benchStackWith(b, always, kvstore.Config{})
}

func benchStackWith(b *testing.B, always bool, store kvstore.Config) (*Env, *Stack) {
	b.Helper()
	e := benchEnv(b, always)
	s, err := e.StartStack(4, store)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	if _, err := stepLatency(context.Background(), s, limit{n: 10}); err != nil {
		b.Fatal(err)
	}
	return e, s
}

// BenchmarkStepLatency is step_latency_p50/p99: one no-op run at a time, submit to complete. It
// also reports what one run costs the server.
func BenchmarkStepLatency(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			e, s := benchStack(b, mode.always)
			before := e.Counters()
			b.ResetTimer()
			samples, err := stepLatency(context.Background(), s, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			after := e.Counters()
			b.ReportMetric(ms(percentile(samples, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(samples, 99)), "p99-ms")
			b.ReportMetric(float64(after.InMsgs-before.InMsgs)/float64(b.N), "server-msgs/run")
		})
	}
}

// BenchmarkStepLatencyMemoryStorage is a diagnostic, not a product figure: the same runs with
// every stream and bucket in memory (which loses runs on a restart), to show how much of the
// latency is the file store's.
func BenchmarkStepLatencyMemoryStorage(b *testing.B) {
	_, s := benchStackWith(b, false, kvstore.Config{Memory: true})
	b.ResetTimer()
	samples, err := stepLatency(context.Background(), s, limit{n: b.N})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(ms(percentile(samples, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(samples, 99)), "p99-ms")
}

// BenchmarkRawStepLatency is the baseline of BenchmarkStepLatency.
func BenchmarkRawStepLatency(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			e := benchEnv(b, mode.always)
			b.ResetTimer()
			samples, err := rawLatency(context.Background(), e, 10, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(ms(percentile(samples, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(samples, 99)), "p99-ms")
		})
	}
}

// BenchmarkStepsPerSecond is steps_per_second: 64 one-step runs in flight.
func BenchmarkStepsPerSecond(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			_, s := benchStack(b, mode.always)
			b.ResetTimer()
			r, err := stepsPerSecond(context.Background(), s, 64, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.perSecond(), "steps/s")
		})
	}
}

// BenchmarkStepsPerSecondMultiStep is steps_per_second_10_step_runs: 64 runs of 10 no-op steps
// in flight; b.N counts steps.
func BenchmarkStepsPerSecondMultiStep(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			_, s := benchStack(b, mode.always)
			b.ResetTimer()
			r, err := stepsPerSecondOf(context.Background(), s, MultiStepPlaybook, MultiStepSteps, 64, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.perSecond(), "steps/s")
		})
	}
}

// BenchmarkRawStepsPerSecond is the baseline of BenchmarkStepsPerSecond.
func BenchmarkRawStepsPerSecond(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			e := benchEnv(b, mode.always)
			b.ResetTimer()
			r, err := rawStepsPerSecond(context.Background(), e, 4, 1000, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.perSecond(), "steps/s")
		})
	}
}

// BenchmarkRunRecordKV is run_record_kv_ops_per_second: kvstore.Runs update and get.
func BenchmarkRunRecordKV(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			e := benchEnv(b, mode.always)
			b.ResetTimer()
			r, _, err := runRecordKV(context.Background(), e, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.perSecond(), "ops/s")
		})
	}
}

// BenchmarkRawKV is the baseline of BenchmarkRunRecordKV, with a value of the record's size.
func BenchmarkRawKV(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			e := benchEnv(b, mode.always)
			size := len(mustJSON(b, sampleRecord()))
			b.ResetTimer()
			r, err := rawKV(context.Background(), e, size, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.perSecond(), "ops/s")
		})
	}
}

// BenchmarkStepsPerSecondInflight is a diagnostic: steps_per_second with 1 to 256 runs in flight.
// Where the rate stops growing, something serial or shared is the limit.
func BenchmarkStepsPerSecondInflight(b *testing.B) {
	for _, inflight := range []int{1, 4, 16, 64, 256} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			_, s := benchStack(b, false)
			b.ResetTimer()
			r, err := stepsPerSecond(context.Background(), s, inflight, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.perSecond(), "steps/s")
		})
	}
}

// BenchmarkStepsPerSecondStacks is a diagnostic: steps_per_second with 1 to 3 coordinators and
// workers (one each per stack) sharing the server. If the rate does not grow, the limit is not in
// one coordinator or worker but in what they share: the server and the machine's two cores.
func BenchmarkStepsPerSecondStacks(b *testing.B) {
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("stacks=%d", n), func(b *testing.B) {
			e, s := benchStack(b, false)
			for range n - 1 {
				extra, err := e.StartStack(4, kvstore.Config{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(extra.Close)
			}
			b.ResetTimer()
			r, err := stepsPerSecond(context.Background(), s, 64, limit{n: b.N})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.perSecond(), "steps/s")
		})
	}
}

// buildFleetbook builds the fleetbook binary into a temporary directory and returns the command
// that starts a coordinator with it. Without a go tool on PATH the test or benchmark is skipped.
func buildFleetbook(tb testing.TB) []string {
	tb.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("coordinator RSS needs the fleetbook binary, and there is no go tool on PATH to build it")
	}
	bin := filepath.Join(tb.TempDir(), "fleetbook")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/fleetbook/fleetbook/cmd/fleetbook")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build fleetbook: %v\n%s", err, out)
	}
	// The benchmark server has no authentication: the coordinator is told so.
	return []string{bin, "coordinator", "--no-auth"}
}

// BenchmarkCoordinatorRSS reports coordinator_rss_ratio_10k_vs_1k: the peak RSS of a coordinator
// process of its own after one rpc step to 10,000 simulated nodes over the same for 1,000. One
// measurement takes several seconds, so it normally runs once; the last one is reported.
func BenchmarkCoordinatorRSS(b *testing.B) {
	command := buildFleetbook(b)
	var samples []rssSample
	for b.Loop() {
		var err error
		if samples, err = coordinatorRSS(context.Background(), command, false, 1000, 10000, func(string, ...any) {}); err != nil {
			b.Fatal(err)
		}
	}
	res, note := rssResult(samples)
	b.Log(note)
	b.ReportMetric(res.Value, "rss_ratio_10k_vs_1k")
	b.ReportMetric(float64(samples[0].peak)/(1<<20), "MB_1k")
	b.ReportMetric(float64(samples[1].peak)/(1<<20), "MB_10k")
}

// BenchmarkStepCost is a diagnostic of where steps_per_second stands against its baseline: what
// one step costs the whole process (server, coordinator, worker and client are all in it) in CPU
// time, in messages sent to the server and in messages stored, for one-step runs, runs of 10 steps
// and the raw minimal step. On a 2-core machine that is CPU-bound, the rate is about the busy
// cores over the CPU per step. (The raw step's streams are deleted before the count is read: it
// stores 2 messages per step, the job and the KV result.)
func BenchmarkStepCost(b *testing.B) {
	product := func(doc string, steps int) func(*testing.B) {
		return func(b *testing.B) {
			e, s := benchStack(b, false)
			b.ResetTimer()
			stepCost(b, e, func() (rate, error) {
				return stepsPerSecondOf(context.Background(), s, doc, steps, 64, limit{n: b.N})
			})
		}
	}
	b.Run("one-step-runs", product(NoopPlaybook, 1))
	b.Run("10-step-runs", product(MultiStepPlaybook, MultiStepSteps))
	b.Run("raw", func(b *testing.B) {
		e := benchEnv(b, false)
		b.ResetTimer()
		stepCost(b, e, func() (rate, error) {
			return rawStepsPerSecond(context.Background(), e, 4, 1000, limit{n: b.N})
		})
	})
	// The runs' messages alone (protocol.go): what the protocol costs without fleetbook's
	// code, with the same slots and runs in flight.
	replay := func(steps int) func(*testing.B) {
		return func(b *testing.B) {
			e := benchEnv(b, false)
			b.ResetTimer()
			stepCost(b, e, func() (rate, error) {
				return protocolStepsPerSecond(context.Background(), e, protocolShape{steps: steps}, 4, 64, limit{n: b.N})
			})
		}
	}
	b.Run("one-step-protocol-replay", replay(1))
	b.Run("10-step-protocol-replay", replay(MultiStepSteps))
}

// BenchmarkProtocolShapes replays one-step runs (protocol.go) with fleetbook's protocol and with
// variants that leave promises out: what each stored message of a run costs on this machine,
// with none of fleetbook's code, as the same slots and runs in flight as BenchmarkStepCost.
func BenchmarkProtocolShapes(b *testing.B) {
	for _, v := range []struct {
		name  string
		shape protocolShape
	}{
		{"fleetbook", protocolShape{}},
		{"no-idempotency-key", protocolShape{noKey: true}},
		{"no-audit-record", protocolShape{noAudit: true}},
		{"claim-in-create", protocolShape{claimInCreate: true}},
		{"no-attempt-record", protocolShape{noAttempt: true}},
		{"none-of-these", protocolShape{noKey: true, noAudit: true, claimInCreate: true, noAttempt: true}},
	} {
		v.shape.steps = 1
		b.Run(v.name, func(b *testing.B) {
			e := benchEnv(b, false)
			b.ResetTimer()
			stepCost(b, e, func() (rate, error) {
				return protocolStepsPerSecond(context.Background(), e, v.shape, 4, 64, limit{n: b.N})
			})
		})
	}
}

// stepCost runs measure and reports its rate and what each of its b.N steps cost.
func stepCost(b *testing.B, e *Env, measure func() (rate, error)) {
	before, start := e.Counters(), time.Now()
	r, err := measure()
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	after := e.Counters()
	n := float64(b.N)
	b.ReportMetric(r.perSecond(), "steps/s")
	b.ReportMetric((after.CPU-before.CPU).Seconds()/elapsed.Seconds(), "busy-cores")
	b.ReportMetric(float64((after.CPU-before.CPU).Microseconds())/n, "cpu-us/step")
	b.ReportMetric(float64(after.InMsgs-before.InMsgs)/n, "server-msgs/step")
	if after.Stored > before.Stored {
		b.ReportMetric(float64(after.Stored-before.Stored)/n, "stored/step")
	}
}
