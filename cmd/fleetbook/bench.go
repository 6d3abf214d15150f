package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/internal/bench"
)

func benchCommand() *cobra.Command {
	var (
		quick, asJSON bool
		syncMode      string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure fleetbook against raw JetStream on an embedded server",
		Long: `Start an embedded JetStream server (file storage in a temporary directory, like the
embedded default) and run each benchmark next to its raw JetStream baseline, in the same
process and run. The table (or with --json, {"benchmarks": [...]}) gives each figure, its
baseline and their ratio (figure / baseline). Progress and notes, including the benchmarks
that cannot be measured yet, go to stderr. --quick finishes within a minute.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if syncMode != "default" && syncMode != "always" {
				return exitf(exitRefused, "--sync must be default or always, got %q", syncMode)
			}
			cfg := bench.Config{Quick: quick, SyncAlways: syncMode == "always", Progress: os.Stderr}
			// The coordinator-memory benchmark runs this same binary as `fleetbook coordinator`.
			if self, err := os.Executable(); err == nil {
				cfg.CoordinatorCommand = []string{self, "coordinator", "--no-auth"} // the benchmark server has no authentication
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
	cmd.Flags().BoolVar(&quick, "quick", false, "short samples: finishes within a minute")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"benchmarks": [...]} on stdout`)
	cmd.Flags().StringVar(&syncMode, "sync", "default", "embedded server disk sync: default or always")
	return cmd
}
