package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
)

// Config chooses what a suite run measures and how long it may take.
type Config struct {
	// Quick keeps the whole run under a minute on a 2-core machine.
	Quick bool
	// SyncAlways makes the server fsync before acknowledging any write (`--sync always`).
	SyncAlways bool
	// Dir is the server's store directory; empty means a temporary one, removed afterwards.
	Dir string
	// Progress receives a line as each measurement starts; nil is silent.
	Progress io.Writer
	// WorkerConcurrency is the worker's slots; 0 means 4, the embedded default.
	WorkerConcurrency int

	// plan overrides the measurement sizes (tests shrink them).
	plan *plan
}

// plan sizes each measurement. Every limit carries a duration so that a slow machine (or
// --sync always) shortens the sample instead of the whole run overrunning.
type plan struct {
	warmup              int
	latency, rawLatency limit
	steps, rawSteps     limit
	inflight, rawWindow int
	rawWorkers          int
	kv, rawKV           limit
}

func planFor(cfg Config) plan {
	if cfg.plan != nil {
		return *cfg.plan
	}
	if cfg.Quick {
		return plan{
			warmup:     20,
			latency:    limit{n: 2000, d: 6 * time.Second},
			rawLatency: limit{n: 5000, d: 2 * time.Second},
			steps:      limit{d: 8 * time.Second},
			rawSteps:   limit{n: 300000, d: 3 * time.Second},
			inflight:   64, rawWindow: 1000, rawWorkers: 4,
			kv:    limit{n: 100000, d: 2 * time.Second},
			rawKV: limit{n: 100000, d: 2 * time.Second},
		}
	}
	return plan{
		warmup:     50,
		latency:    limit{n: 10000, d: 45 * time.Second},
		rawLatency: limit{n: 20000, d: 10 * time.Second},
		steps:      limit{d: 30 * time.Second},
		rawSteps:   limit{n: 1000000, d: 10 * time.Second},
		inflight:   64, rawWindow: 1000, rawWorkers: 4,
		kv:    limit{n: 500000, d: 10 * time.Second},
		rawKV: limit{n: 500000, d: 10 * time.Second},
	}
}

// notYet names the benchmarks of issue 6 that cannot be measured honestly yet, and why.
var notYet = []string{
	"fanout_10k_seconds: not measured: needs rpc steps (coordinator batching, worker fan-out) and a simulated fleet of node agents",
	"coordinator_rss_ratio_10k_vs_1k: not measured: needs rpc steps with 10k and 1k targets",
	"kv_store_ops_per_second: not measured: the data-store API (kvstore.Open with a kv StoreSpec) does not exist yet; run_record_kv_ops_per_second measures the run-record KV path instead",
}

// Run starts an embedded server and measures every benchmark that can be measured, each next to
// its raw JetStream baseline. Benchmarks that cannot be measured yet are named in the Notes.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	p := planFor(cfg)
	concurrency := cfg.WorkerConcurrency
	if concurrency <= 0 {
		concurrency = 4
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	env, err := StartEnv(cfg.Dir, cfg.SyncAlways)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	rep := &Report{}

	progress("raw JetStream step latency (publish, consume, ack, reply; closed loop)")
	raw, err := rawLatency(ctx, env, p.warmup, p.rawLatency)
	if err != nil {
		return nil, err
	}
	stack, err := env.StartStack(concurrency, kvstore.Config{})
	if err != nil {
		return nil, err
	}
	defer stack.Close()
	progress("fleetbook step latency (submit to run complete, one-step shell `true` playbook; closed loop)")
	if _, err := stepLatency(ctx, stack, limit{n: p.warmup}); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	before := env.Counters()
	prod, err := stepLatency(ctx, stack, p.latency)
	if err != nil {
		return nil, err
	}
	after := env.Counters()
	rep.Benchmarks = append(rep.Benchmarks,
		newResult("step_latency_p50", "ms", ms(percentile(prod, 50)), ms(percentile(raw, 50))),
		newResult("step_latency_p99", "ms", ms(percentile(prod, 99)), ms(percentile(raw, 99))))
	runs := float64(len(prod))
	rep.Notes = append(rep.Notes, fmt.Sprintf(
		"step latency: %d fleetbook runs, %d raw round trips; each one-step run sent the server %.1f messages (publishes, requests, replies, acks, pulls)",
		len(prod), len(raw), float64(after.InMsgs-before.InMsgs)/runs))

	progress("raw JetStream minimal steps per second (%d workers, %d in flight)", p.rawWorkers, p.rawWindow)
	rawRate, err := rawStepsPerSecond(ctx, env, p.rawWorkers, p.rawWindow, p.rawSteps)
	if err != nil {
		return nil, err
	}
	progress("fleetbook steps per second (%d concurrent one-step runs, worker concurrency %d)", p.inflight, concurrency)
	prodRate, err := stepsPerSecond(ctx, stack, p.inflight, p.steps)
	if err != nil {
		return nil, err
	}
	rep.Benchmarks = append(rep.Benchmarks, newResult("steps_per_second", "steps/s", prodRate.perSecond(), rawRate.perSecond()))
	rep.Notes = append(rep.Notes, fmt.Sprintf("steps per second: %d fleetbook runs in %s, %d raw steps in %s",
		prodRate.ops, prodRate.elapsed.Round(time.Millisecond), rawRate.ops, rawRate.elapsed.Round(time.Millisecond)))

	progress("run record KV (kvstore.Runs update+get) and raw KV (put+get)")
	recRate, size, err := runRecordKV(ctx, env, p.kv)
	if err != nil {
		return nil, err
	}
	rawKVRate, err := rawKV(ctx, env, size, p.rawKV)
	if err != nil {
		return nil, err
	}
	rep.Benchmarks = append(rep.Benchmarks, newResult("run_record_kv_ops_per_second", "ops/s", recRate.perSecond(), rawKVRate.perSecond()))
	rep.Notes = append(rep.Notes, fmt.Sprintf("run record KV: %d-byte record, %d ops; raw KV: %d ops", size, recRate.ops, rawKVRate.ops))

	rep.Notes = append(rep.Notes, notYet...)
	return rep, nil
}
