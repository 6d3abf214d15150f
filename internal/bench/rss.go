package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// rssSmallClass marks the nodes of the small step: the first rssSmall nodes of the fleet carry it
// besides "sim", so one fleet serves both runs.
const rssSmallClass = "small"

// rssSample is what one coordinator process used: its peak RSS once ready (idle) and after
// driving one rpc step to its targets.
type rssSample struct {
	targets    int
	idle, peak int64 // bytes
	// record is the size of the finished run record in bytes: it is rewritten on every CAS.
	record int
}

// coordinatorRSS measures coordinator memory for one rpc step to small and to large targets. The
// server (listening on loopback), the worker and the simulated fleet run in this process; each
// step gets a fresh coordinator process started with command plus `--server URL`, and its peak
// RSS (VmHWM) is read once the run is complete.
func coordinatorRSS(ctx context.Context, command []string, syncAlways bool, small, large int, progress func(string, ...any)) ([]rssSample, error) {
	env, err := startEnv("", syncAlways, true)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	stack, err := env.startStack(4, kvstore.Config{}, false)
	if err != nil {
		return nil, err
	}
	defer stack.Close()
	sim, both := []string{"sim"}, []string{"sim", rssSmallClass}
	stopFleet, err := env.startFleet(large, func(i int) []string {
		if i < small {
			return both
		}
		return sim
	})
	if err != nil {
		return nil, err
	}
	defer stopFleet()
	_, js, err := env.Connect("bench run records")
	if err != nil {
		return nil, err
	}
	var out []rssSample
	for _, step := range []struct {
		n     int
		class string
	}{{small, rssSmallClass}, {large, "sim"}} {
		progress("coordinator process: rpc step to %d simulated nodes", step.n)
		s, err := oneCoordinatorRSS(ctx, command, env.URL(), stack, js, step.n, step.class)
		if err != nil {
			return nil, fmt.Errorf("coordinator RSS, %d targets: %w", step.n, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// oneCoordinatorRSS starts a coordinator process, waits until it serves the API, runs the
// fan-out playbook for the n nodes of class and returns the process's idle and peak RSS.
func oneCoordinatorRSS(ctx context.Context, command []string, url string, stack *Stack, js jetstream.JetStream, n int, class string) (rssSample, error) {
	cctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	args := append(append([]string{}, command[1:]...), "--server", url)
	cmd := exec.Command(command[0], args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return rssSample{}, fmt.Errorf("start %s: %w", command[0], err)
	}
	// exited is closed when the process has ended, so both the wait for the API and the stop at
	// the end can see it (a channel of one value would be read once and block the other).
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	defer stopProcess(cmd, exited)
	if err := awaitCoordinator(cctx, stack.client, exited, &exitErr); err != nil {
		return rssSample{}, fmt.Errorf("%w; its stderr: %s", err, tail(stderr.String()))
	}
	idle, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		return rssSample{}, err
	}
	id, err := stack.run(cctx, fanoutPlaybookFor(n, class))
	if err != nil {
		return rssSample{}, fmt.Errorf("%w; coordinator stderr: %s", err, tail(stderr.String()))
	}
	peak, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		return rssSample{}, err
	}
	runs, err := js.KeyValue(cctx, protocol.RunsBucket)
	if err != nil {
		return rssSample{}, err
	}
	rec, err := runs.Get(cctx, id)
	if err != nil {
		return rssSample{}, fmt.Errorf("read run record %s: %w", id, err)
	}
	return rssSample{targets: n, idle: idle, peak: peak, record: len(rec.Value())}, nil
}

// awaitCoordinator polls the API until a coordinator answers, failing early if the process exits.
func awaitCoordinator(ctx context.Context, client *coordinator.Client, exited <-chan struct{}, exitErr *error) error {
	for {
		_, err := client.List(ctx, 1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, coordinator.ErrNoCoordinator) {
			return fmt.Errorf("coordinator API: %w", err)
		}
		select {
		case <-exited:
			return fmt.Errorf("coordinator process exited before serving: %v", *exitErr)
		case <-ctx.Done():
			return fmt.Errorf("coordinator process did not serve the API: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stopProcess interrupts the process and kills it if it has not exited within 10 s.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// peakRSS reads a process's peak resident set size (VmHWM) from /proc, in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmHWM %q: %w", rest, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmHWM in /proc status (not Linux?)")
}

// tail is the last lines of a process's stderr, for an error message.
func tail(s string) string {
	const keep = 800
	s = strings.TrimSpace(s)
	if len(s) > keep {
		s = "…" + s[len(s)-keep:]
	}
	return s
}

// rssResult turns the two samples into coordinator_rss_ratio_10k_vs_1k. Its baseline is 1.0,
// a coordinator whose memory does not grow with the targets: raw JetStream has no coordinator.
func rssResult(samples []rssSample) (Result, string) {
	small, large := samples[0], samples[1]
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
	note := fmt.Sprintf("coordinator RSS (own process, peak VmHWM): after an rpc step to %d nodes %s (idle %s, so +%s; run record %d bytes); to %d nodes %s (idle %s, so +%s; run record %d bytes); baseline 1.0 = no growth",
		small.targets, mb(small.peak), mb(small.idle), mb(small.peak-small.idle), small.record,
		large.targets, mb(large.peak), mb(large.idle), mb(large.peak-large.idle), large.record)
	return newResult("coordinator_rss_ratio_10k_vs_1k", "ratio", float64(large.peak)/float64(small.peak), 1), note
}
