package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/internal/bench"
)

func benchCommand() *cobra.Command {
	var (
		quick, asJSON, long bool
		syncMode            string
		only                []string
		inflight, steps     int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure fleetbook against raw JetStream on an embedded server",
		Long: `Start an embedded JetStream server (file storage in a temporary directory, like the
embedded default) and run each benchmark next to its raw JetStream baseline, in the same
process and run. The table (or with --json, {"benchmarks": [...]}) gives each figure, its
baseline and their ratio (figure / baseline). Progress and notes, including the benchmarks
that cannot be measured yet, go to stderr. --quick finishes within a minute or two.

--only runs only the groups it names (latency, throughput, crowd, kv, fanout, rss, oneshot,
long); --long adds runs of 1000 steps (steps_per_second_1000_step_runs and
per_step_growth_1000_vs_100), which take a while.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if syncMode != "default" && syncMode != "always" {
				return exitf(exitRefused, "--sync must be default or always, got %q", syncMode)
			}
			for _, g := range only {
				if !slices.Contains(bench.Groups, g) {
					return exitf(exitRefused, "--only: unknown group %q (groups: %s)", g, strings.Join(bench.Groups, ", "))
				}
			}
			if inflight < 0 || steps < 0 {
				return exitf(exitRefused, "--inflight and --steps must not be negative, got %d and %d", inflight, steps)
			}
			cfg := bench.Config{Quick: quick, SyncAlways: syncMode == "always", Progress: os.Stderr, Long: long, Only: only,
				Inflight: inflight, Steps: steps}
			// The coordinator-memory benchmark runs this same binary as `fleetbook coordinator`,
			// and the one-shot benchmark as `fleetbook run --embedded`.
			if self, err := os.Executable(); err == nil {
				cfg.CoordinatorCommand = []string{self, "coordinator", "--no-auth"} // the benchmark server has no authentication
				cfg.FleetbookCommand = []string{self}
			} else {
				fmt.Fprintln(os.Stderr, "note: cannot find this executable to start a coordinator process:", err)
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return exitf(exitInfra, "bench: %v", err)
			}
			for _, note := range rep.Notes {
				fmt.Fprintln(os.Stderr, "note:", note)
			}
			if asJSON {
				err = rep.WriteJSON(os.Stdout)
			} else {
				err = rep.WriteTable(os.Stdout)
			}
			if err != nil {
				return exitf(exitInfra, "write results: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&quick, "quick", false, "short samples: finishes within a minute or two")
	cmd.Flags().BoolVar(&long, "long", false, "also measure runs of 1000 steps (they take a while)")
	cmd.Flags().IntVar(&inflight, "inflight", 0, "runs in flight of the throughput benchmarks (default 64)")
	cmd.Flags().IntVar(&steps, "steps", 0, "steps each throughput sample counts, instead of a duration")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these groups: "+strings.Join(bench.Groups, ", "))
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"benchmarks": [...]} on stdout`)
	cmd.Flags().StringVar(&syncMode, "sync", "default", "embedded server disk sync: default or always")
	return cmd
}
