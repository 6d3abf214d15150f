// Command compare alternates `fleetbook bench` and a peer N times on the same machine and
// prints the medians in the shape of `fleetbook bench --json`, each fleetbook figure with the
// peer's as its baseline: ratio above 1 is fleetbook ahead.
//
//	go run ./compare -fleetbook /tmp/fleetbook -peer /tmp/peers -n 5
//
// compare.sh builds both and runs it.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetbook/fleetbook/internal/bench/peers/report"
)

func main() {
	var (
		fleetbook = flag.String("fleetbook", "", "the fleetbook binary")
		peer      = flag.String("peer", "", "the peer binary (this module's main package)")
		n         = flag.Int("n", 3, "alternations: each runs fleetbook bench once and the peer once")
		tasks     = flag.Int("tasks", 5000, "steps of each one-step sample (fleetbook runs, peer tasks)")
		inflight  = flag.Int("inflight", 100, "runs (and tasks) in flight")
		storage   = flag.String("storage", "file", "peer storage: file (like fleetbook bench) or memory")
	)
	flag.Parse()
	if *fleetbook == "" || *peer == "" || *n <= 0 {
		fmt.Fprintln(os.Stderr, "compare: -fleetbook and -peer are required, -n must be positive")
		os.Exit(2)
	}
	fleetArgs := []string{"bench", "--json", "--only", "throughput", "--steps", strconv.Itoa(*tasks), "--inflight", strconv.Itoa(*inflight)}
	peerArgs := []string{"-tasks", strconv.Itoa(*tasks), "-inflight", strconv.Itoa(*inflight), "-storage", *storage}
	samples := map[string][]float64{}
	units := map[string]string{}
	for i := range *n {
		for _, c := range []struct {
			prefix string
			bin    string
			args   []string
		}{{"", *fleetbook, fleetArgs}, {"peer:", *peer, peerArgs}} {
			fmt.Fprintf(os.Stderr, "round %d/%d: %s %s\n", i+1, *n, c.bin, strings.Join(c.args, " "))
			rep, err := run(c.bin, c.args)
			if err != nil {
				fmt.Fprintln(os.Stderr, "compare:", err)
				os.Exit(1)
			}
			for _, b := range rep.Benchmarks {
				samples[c.prefix+b.Name] = append(samples[c.prefix+b.Name], b.Value)
				units[c.prefix+b.Name] = b.Unit
				fmt.Fprintf(os.Stderr, "  %s%s = %.0f %s\n", c.prefix, b.Name, b.Value, b.Unit)
			}
		}
	}
	base := median(samples["peer:steps_per_second"])
	out := report.Report{}
	for _, name := range []string{"steps_per_second", "steps_per_second_10_step_runs"} {
		r := report.Result{Name: name, Value: median(samples[name]), Unit: units[name], Baseline: base}
		if base > 0 {
			r.Ratio = r.Value / base
		}
		out.Benchmarks = append(out.Benchmarks, r)
	}
	fmt.Fprintf(os.Stderr, "medians of %d alternations; baseline: asyncjobs no-op tasks/s, %d tasks, %d in flight, %s storage (samples %v)\n",
		*n, *tasks, *inflight, *storage, samples["peer:steps_per_second"])
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// run runs bin with args and decodes the report it prints on stdout; stderr passes through.
func run(bin string, args []string) (report.Report, error) {
	var stdout bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return report.Report{}, fmt.Errorf("%s: %w", bin, err)
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return report.Report{}, fmt.Errorf("%s: its output is no bench report: %w", bin, err)
	}
	return rep, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
