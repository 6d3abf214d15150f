package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
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
	// CoordinatorCommand starts a coordinator process when `--server URL` is appended, e.g.
	// {"/path/to/fleetbook", "coordinator"}. Empty leaves coordinator_rss_ratio_10k_vs_1k out,
	// with a note: it needs a coordinator process of its own.
	CoordinatorCommand []string
	// FleetbookCommand is the fleetbook binary (and any leading arguments) for
	// embedded_one_shot_seconds, which spawns `run BOOK --embedded --data-dir DIR` whole. Empty
	// leaves it out, with a note.
	FleetbookCommand []string
	// Long also measures runs of 1000 steps (steps_per_second_1000_step_runs and
	// per_step_growth_1000_vs_100); they take a while, so they are left out otherwise.
	Long bool
	// Only restricts the run to these groups (see Groups); empty runs every group.
	Only []string
	// Inflight, when positive, is the runs in flight of the throughput group (default 64), and
	// Steps, when positive, the steps each of its samples counts instead of a duration.
	Inflight, Steps int

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
	// fanoutNodes is the size of the simulated fleet; fanoutRuns how many fan-out runs are timed
	// (the median counts) after one warm-up run.
	fanoutNodes, fanoutRuns int
	// rssSmall and rssLarge are the targets of the two coordinator-memory steps; 0 skips them.
	rssSmall, rssLarge int
	// crowd is the runs in flight of the crowded latency (step_latency_p50_100_in_flight), and
	// crowdLatency its samples.
	crowd        int
	crowdLatency limit
	// oneShots is how many one-shot processes are timed (the median counts); 0 skips them.
	oneShots int
	// longShort and longLong are the steps of the short and long runs of the long-run
	// measurement, longRuns how many of each run, longInflight how many at once.
	longShort, longLong, longRuns, longInflight int
	// longFanoutNodes is the fleet of the long group's one rpc step (fanout_100k_seconds).
	longFanoutNodes int
}

// Groups are the names of the measurements Config.Only chooses from, in the order they run.
var Groups = []string{"latency", "throughput", "crowd", "kv", "fanout", "rss", "oneshot", "long"}

func planFor(cfg Config) plan {
	p := basePlan(cfg)
	if cfg.Inflight > 0 {
		p.inflight = cfg.Inflight
	}
	if cfg.Steps > 0 {
		p.steps = limit{n: cfg.Steps}
	}
	return p
}

func basePlan(cfg Config) plan {
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
			kv:          limit{n: 100000, d: 2 * time.Second},
			rawKV:       limit{n: 100000, d: 2 * time.Second},
			fanoutNodes: 10000, fanoutRuns: 1,
			rssSmall: 1000, rssLarge: 10000,
			crowd: 100, crowdLatency: limit{n: 2000, d: 6 * time.Second},
			oneShots:  3,
			longShort: 100, longLong: 1000, longRuns: 2, longInflight: 2,
			longFanoutNodes: 100_000,
		}
	}
	return plan{
		warmup:     50,
		latency:    limit{n: 10000, d: 45 * time.Second},
		rawLatency: limit{n: 20000, d: 10 * time.Second},
		steps:      limit{d: 30 * time.Second},
		rawSteps:   limit{n: 1000000, d: 10 * time.Second},
		inflight:   64, rawWindow: 1000, rawWorkers: 4,
		kv:          limit{n: 500000, d: 10 * time.Second},
		rawKV:       limit{n: 500000, d: 10 * time.Second},
		fanoutNodes: 10000, fanoutRuns: 5,
		rssSmall: 1000, rssLarge: 10000,
		crowd: 100, crowdLatency: limit{n: 10000, d: 20 * time.Second},
		oneShots:  5,
		longShort: 100, longLong: 1000, longRuns: 4, longInflight: 4,
		longFanoutNodes: 100_000,
	}
}

// stepCostNote describes what each of steps cost between two readings of the counters. Stored
// messages are left out when none were counted (the raw step's streams are deleted before the
// second reading).
func stepCostNote(before, after Counters, steps int, name string) string {
	if steps == 0 {
		return name + " n/a"
	}
	n := float64(steps)
	out := fmt.Sprintf("%s %.0f µs, %.1f msgs", name, float64((after.CPU-before.CPU).Microseconds())/n, float64(after.InMsgs-before.InMsgs)/n)
	if after.Stored > before.Stored {
		out += fmt.Sprintf(", %.1f stored", float64(after.Stored-before.Stored)/n)
	}
	return out
}

// noCoordinatorCommand explains a missing coordinator_rss_ratio_10k_vs_1k.
const noCoordinatorCommand = "coordinator_rss_ratio_10k_vs_1k: not measured: it needs a coordinator process of its own, and no command to start one was given"

// noFleetbookCommand explains a missing embedded_one_shot_seconds.
const noFleetbookCommand = "embedded_one_shot_seconds: not measured: it spawns the fleetbook binary, and none was given"

// notLong explains the missing long-run figures.
const notLong = "steps_per_second_1000_step_runs, per_step_growth_1000_vs_100: not measured: runs of 1000 steps take a while; give --long"

// wants reports whether a suite run with cfg measures group.
func (cfg Config) wants(group string) bool {
	return len(cfg.Only) == 0 || slices.Contains(cfg.Only, group)
}

// Run starts an embedded server and measures every benchmark that can be measured (of the groups
// cfg.Only names, when it names any), each next to its raw JetStream baseline. Benchmarks that
// cannot be measured are named in the Notes.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	for _, g := range cfg.Only {
		if !slices.Contains(Groups, g) {
			return nil, fmt.Errorf("unknown benchmark group %q (groups: %v)", g, Groups)
		}
	}
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

	var raw []time.Duration
	if cfg.wants("latency") {
		progress("raw JetStream step latency (publish, consume, ack, reply; closed loop)")
		if raw, err = rawLatency(ctx, env, p.warmup, p.rawLatency); err != nil {
			return nil, err
		}
	}
	stack, err := env.StartStack(concurrency, kvstore.Config{})
	if err != nil {
		return nil, err
	}
	defer stack.Close()
	progress("fleetbook warm-up (%d one-step runs)", p.warmup)
	if _, err := stepLatency(ctx, stack, limit{n: p.warmup}); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	if cfg.wants("latency") {
		if err := latencyGroup(ctx, env, stack, p, raw, rep, progress); err != nil {
			return nil, err
		}
	}
	if cfg.wants("throughput") {
		if err := throughputGroup(ctx, env, stack, p, concurrency, rep, progress); err != nil {
			return nil, err
		}
	}
	if cfg.wants("crowd") && p.crowd > 0 {
		if err := crowdGroup(ctx, env, stack, p, rep, progress); err != nil {
			return nil, err
		}
	}
	if cfg.wants("kv") {
		if err := kvGroup(ctx, env, p, rep, progress); err != nil {
			return nil, err
		}
	}
	if cfg.wants("fanout") && p.fanoutNodes > 0 {
		res, note, err := fanout(ctx, env, stack, p, progress)
		if err != nil {
			return nil, err
		}
		rep.Benchmarks = append(rep.Benchmarks, res)
		rep.Notes = append(rep.Notes, note)
	}
	switch {
	case !cfg.wants("rss") || p.rssLarge == 0:
	case len(cfg.CoordinatorCommand) == 0:
		rep.Notes = append(rep.Notes, noCoordinatorCommand)
	default:
		samples, err := coordinatorRSS(ctx, cfg.CoordinatorCommand, cfg.SyncAlways, p.rssSmall, p.rssLarge, progress)
		if err != nil {
			return nil, err
		}
		res, note := rssResult(samples)
		rep.Benchmarks = append(rep.Benchmarks, res)
		rep.Notes = append(rep.Notes, note)
	}
	switch {
	case !cfg.wants("oneshot") || p.oneShots == 0:
	case len(cfg.FleetbookCommand) == 0:
		rep.Notes = append(rep.Notes, noFleetbookCommand)
	default:
		progress("embedded one-shot: %d whole `run --embedded` processes of the one-step no-op playbook", p.oneShots)
		res, note, err := oneShot(ctx, cfg.FleetbookCommand, p.oneShots)
		if err != nil {
			return nil, err
		}
		rep.Benchmarks = append(rep.Benchmarks, res)
		rep.Notes = append(rep.Notes, note)
	}
	switch {
	case !cfg.wants("long"):
	case !cfg.Long:
		rep.Notes = append(rep.Notes, notLong)
	default:
		if err := longGroup(ctx, env, stack, p, rep, progress); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// latencyGroup measures one-step runs one at a time (step_latency_p50, _p99) next to raw.
func latencyGroup(ctx context.Context, env *Env, stack *Stack, p plan, raw []time.Duration, rep *Report, progress func(string, ...any)) error {
	progress("fleetbook step latency (submit to run complete, one-step noop playbook; closed loop)")
	before := env.Counters()
	prod, err := stepLatency(ctx, stack, p.latency)
	if err != nil {
		return err
	}
	after := env.Counters()
	rep.Benchmarks = append(rep.Benchmarks,
		newResult("step_latency_p50", "ms", ms(percentile(prod, 50)), ms(percentile(raw, 50))),
		newResult("step_latency_p99", "ms", ms(percentile(prod, 99)), ms(percentile(raw, 99))))
	runs := float64(len(prod))
	rep.Notes = append(rep.Notes, fmt.Sprintf(
		"step latency: %d fleetbook runs, %d raw round trips; each one-step run sent the server %.1f messages (publishes, requests, replies, acks, pulls)",
		len(prod), len(raw), float64(after.InMsgs-before.InMsgs)/runs))
	return nil
}

// throughputGroup measures steps per second of one-step and of 10-step runs next to the raw
// minimal step.
func throughputGroup(ctx context.Context, env *Env, stack *Stack, p plan, concurrency int, rep *Report, progress func(string, ...any)) error {
	progress("raw JetStream minimal steps per second (%d workers, %d in flight)", p.rawWorkers, p.rawWindow)
	c0 := env.Counters()
	rawRate, err := rawStepsPerSecond(ctx, env, p.rawWorkers, p.rawWindow, p.rawSteps)
	if err != nil {
		return err
	}
	c1 := env.Counters()
	progress("fleetbook steps per second (%d concurrent one-step runs, worker concurrency %d)", p.inflight, concurrency)
	prodRate, err := stepsPerSecond(ctx, stack, p.inflight, p.steps)
	if err != nil {
		return err
	}
	c2 := env.Counters()
	progress("fleetbook steps per second (%d concurrent runs of %d no-op steps, worker concurrency %d)", p.inflight, MultiStepSteps, concurrency)
	multiRate, err := stepsPerSecondOf(ctx, stack, MultiStepPlaybook, MultiStepSteps, p.inflight, p.steps)
	if err != nil {
		return err
	}
	c3 := env.Counters()
	progress("the protocol of one-step and %d-step runs replayed with raw JetStream calls (%d in flight, %d worker slots)", MultiStepSteps, p.inflight, concurrency)
	floorRate, err := protocolStepsPerSecond(ctx, env, protocolShape{steps: 1}, concurrency, p.inflight, p.steps)
	if err != nil {
		return err
	}
	multiFloorRate, err := protocolStepsPerSecond(ctx, env, protocolShape{steps: MultiStepSteps}, concurrency, p.inflight, p.steps)
	if err != nil {
		return err
	}
	rep.Benchmarks = append(rep.Benchmarks,
		newResult("steps_per_second", "steps/s", prodRate.perSecond(), rawRate.perSecond()),
		newResult("steps_per_second_10_step_runs", "steps/s", multiRate.perSecond(), rawRate.perSecond()),
		newResult("steps_per_second_vs_protocol", "steps/s", prodRate.perSecond(), floorRate.perSecond()),
		newResult("steps_per_second_10_step_runs_vs_protocol", "steps/s", multiRate.perSecond(), multiFloorRate.perSecond()))
	rep.Notes = append(rep.Notes, fmt.Sprintf("steps per second: %d fleetbook one-step runs in %s; %d steps of %d-step runs in %s; %d raw steps in %s",
		prodRate.ops, prodRate.elapsed.Round(time.Millisecond), multiRate.ops, MultiStepSteps, multiRate.elapsed.Round(time.Millisecond),
		rawRate.ops, rawRate.elapsed.Round(time.Millisecond)))
	rep.Notes = append(rep.Notes, fmt.Sprintf("protocol replay (the runs' messages alone, with none of fleetbook's code): %d one-step runs in %s; %d steps of %d-step runs in %s",
		floorRate.ops, floorRate.elapsed.Round(time.Millisecond), multiFloorRate.ops, MultiStepSteps, multiFloorRate.elapsed.Round(time.Millisecond)))
	rep.Notes = append(rep.Notes, "cost per step (CPU of this whole process, messages sent to the server, messages stored): "+
		stepCostNote(c0, c1, rawRate.ops, "raw")+"; "+stepCostNote(c1, c2, prodRate.ops, "one-step runs")+"; "+
		stepCostNote(c2, c3, multiRate.ops, fmt.Sprintf("%d-step runs", MultiStepSteps)))
	return nil
}

// crowdGroup measures the latency of one-step runs with p.crowd of them in flight, next to as
// many raw round trips in flight.
func crowdGroup(ctx context.Context, env *Env, stack *Stack, p plan, rep *Report, progress func(string, ...any)) error {
	progress("raw JetStream step latency, %d round trips in flight", p.crowd)
	raw, err := rawLatencyInflight(ctx, env, p.crowd, p.warmup, p.crowdLatency)
	if err != nil {
		return err
	}
	progress("fleetbook step latency, %d one-step runs in flight", p.crowd)
	prod, err := stepLatencyInflight(ctx, stack, p.crowd, p.crowdLatency)
	if err != nil {
		return err
	}
	// The names keep the full run's size (the note gives the size measured).
	rep.Benchmarks = append(rep.Benchmarks,
		newResult("step_latency_p50_100_in_flight", "ms", ms(percentile(prod, 50)), ms(percentile(raw, 50))),
		newResult("step_latency_p99_100_in_flight", "ms", ms(percentile(prod, 99)), ms(percentile(raw, 99))))
	rep.Notes = append(rep.Notes, fmt.Sprintf("step latency with %d in flight: %d fleetbook runs, %d raw round trips", p.crowd, len(prod), len(raw)))
	return nil
}

// kvGroup measures the run record's KV operations and the data store's, each next to raw KV.
func kvGroup(ctx context.Context, env *Env, p plan, rep *Report, progress func(string, ...any)) error {
	progress("run record KV (kvstore.Runs update+get) and raw KV (put+get)")
	recRate, size, err := runRecordKV(ctx, env, p.kv)
	if err != nil {
		return err
	}
	rawKVRate, err := rawKV(ctx, env, size, p.rawKV)
	if err != nil {
		return err
	}
	rep.Benchmarks = append(rep.Benchmarks, newResult("run_record_kv_ops_per_second", "ops/s", recRate.perSecond(), rawKVRate.perSecond()))
	rep.Notes = append(rep.Notes, fmt.Sprintf("run record KV: %d-byte record, %d ops; raw KV: %d ops", size, recRate.ops, rawKVRate.ops))

	progress("data store (datastore.Open, type kv: put+get) and raw KV (put+get)")
	storeRate, valueSize, err := dataStoreKV(ctx, env, p.kv)
	if err != nil {
		return err
	}
	rawStoreRate, err := rawKV(ctx, env, valueSize, p.rawKV)
	if err != nil {
		return err
	}
	rep.Benchmarks = append(rep.Benchmarks, newResult("kv_store_ops_per_second", "ops/s", storeRate.perSecond(), rawStoreRate.perSecond()))
	rep.Notes = append(rep.Notes, fmt.Sprintf("data store: %d-byte value, %d ops; raw KV: %d ops", valueSize, storeRate.ops, rawStoreRate.ops))
	return nil
}

// longGroup measures runs of p.longLong steps next to the raw minimal step, and their per-step
// time next to that of runs of p.longShort steps (baseline 1: flat).
func longGroup(ctx context.Context, env *Env, stack *Stack, p plan, rep *Report, progress func(string, ...any)) error {
	progress("raw JetStream minimal steps per second (%d workers, %d in flight)", p.rawWorkers, p.rawWindow)
	rawRate, err := rawStepsPerSecond(ctx, env, p.rawWorkers, p.rawWindow, p.rawSteps)
	if err != nil {
		return err
	}
	progress("fleetbook runs of %d and of %d no-op steps (%d of each, %d in flight)", p.longShort, p.longLong, p.longRuns, p.longInflight)
	l, err := measureLongRuns(ctx, stack, p.longShort, p.longLong, p.longRuns, p.longInflight)
	if err != nil {
		return err
	}
	// The names keep the full run's sizes (the note gives the sizes measured).
	rep.Benchmarks = append(rep.Benchmarks,
		newResult("steps_per_second_1000_step_runs", "steps/s", l.longRate.perSecond(), rawRate.perSecond()),
		newResult("per_step_growth_1000_vs_100", "x", l.growth(), 1))
	rep.Notes = append(rep.Notes, l.note(p.longRuns, p.longInflight))
	// Linear in nodes, with no size ceiling: the per-node outcomes are kept outside the record,
	// and the node set is in parts of its own.
	res, note, err := fanoutOf(ctx, env, stack, p.longFanoutNodes, 1, "fanout_100k_seconds", progress)
	if err != nil {
		return err
	}
	rep.Benchmarks = append(rep.Benchmarks, res)
	rep.Notes = append(rep.Notes, note)
	return nil
}

// fanout measures one rpc step to p.fanoutNodes simulated nodes: the median step time of
// p.fanoutRuns runs, after a warm-up run, next to as many raw core NATS request/replies.
func fanout(ctx context.Context, env *Env, stack *Stack, p plan, progress func(string, ...any)) (Result, string, error) {
	return fanoutOf(ctx, env, stack, p.fanoutNodes, p.fanoutRuns, "fanout_10k_seconds", progress)
}

// fanoutOf measures one rpc step to n simulated nodes, the median of runs runs after a warm-up,
// next to n raw core NATS request/replies, as the result name.
func fanoutOf(ctx context.Context, env *Env, stack *Stack, n, runs int, name string, progress func(string, ...any)) (Result, string, error) {
	progress("raw core NATS: %d request/replies at once", n)
	raw, err := rawFanout(ctx, env, n)
	if err != nil {
		return Result{}, "", err
	}
	progress("fleetbook rpc step to %d simulated nodes (%d runs after a warm-up)", n, runs)
	stopFleet, err := env.StartFleet(n)
	if err != nil {
		return Result{}, "", err
	}
	defer stopFleet()
	if _, _, err := rpcStep(ctx, stack, n); err != nil {
		return Result{}, "", fmt.Errorf("fan-out warm-up: %w", err)
	}
	var steps, whole []time.Duration
	for range runs {
		step, run, err := rpcStep(ctx, stack, n)
		if err != nil {
			return Result{}, "", err
		}
		steps, whole = append(steps, step), append(whole, run)
	}
	med := percentile(steps, 50)
	note := fmt.Sprintf("fan-out: rpc step to %d nodes, median of %d: step %s (whole run with discovery %s); raw %d request/replies %s",
		n, len(steps), med.Round(time.Millisecond), percentile(whole, 50).Round(time.Millisecond), n, raw.Round(time.Millisecond))
	return newResult(name, "s", med.Seconds(), raw.Seconds()), note, nil
}
