package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/protocol"
)

func runsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "View past and current runs"}
	cmd.AddCommand(runsListCommand(), runsShowCommand(), runsCancelCommand(), runsPruneCommand())
	return cmd
}

func runsListCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd.Context(), "fleetbook runs list")
			if err != nil {
				return err
			}
			defer s.stop()
			runs, err := s.client.List(cmd.Context(), limit)
			if err != nil {
				return apiFailure(err, "runs list", asJSON)
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(map[string]any{"runs": runs})
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPLAYBOOK\tVERSION\tSTATUS\tCREATED\tDURATION")
			for _, r := range runs {
				dur := ""
				if !r.EndedAt.IsZero() && !r.StartedAt.IsZero() {
					dur = round(r.EndedAt.Sub(r.StartedAt)).String()
				} else if !r.StartedAt.IsZero() {
					dur = round(time.Since(r.StartedAt)).String() + " so far"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", visible(r.ID), visible(r.Playbook.Name), visible(r.Playbook.Version), visible(string(r.Status)),
					r.CreatedAt.Local().Format(time.DateTime), dur)
			}
			return tw.Flush()
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"runs\": [...]} as JSON")
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "show at most this many runs")
	return cmd
}

func runsShowCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a run's report",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := conn.connect(cmd.Context(), "fleetbook runs show")
			if err != nil {
				return err
			}
			defer s.stop()
			r, err := s.client.Get(cmd.Context(), args[0])
			var apiErr *protocol.ErrorResponse
			if errors.As(err, &apiErr) && apiErr.Code == protocol.CodeNotFound {
				return exitf(exitRefused, "%s", apiErr.Message)
			}
			if err != nil {
				return apiFailure(err, "runs show", asJSON)
			}
			return printReport(os.Stdout, r, asJSON)
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func runsCancelCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
		reason string
		wait   bool
	)
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a run: steps in flight are stopped, on_fail and post_book run, it ends cancelled",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := conn.connect(cmd.Context(), "fleetbook runs cancel")
			if err != nil {
				return err
			}
			defer s.stop()
			r, err := s.client.Cancel(cmd.Context(), args[0], reason)
			var apiErr *protocol.ErrorResponse
			if errors.As(err, &apiErr) && apiErr.Code == protocol.CodeNotFound {
				return exitf(exitRefused, "%s", apiErr.Message)
			}
			if err != nil {
				return apiFailure(err, "runs cancel", asJSON)
			}
			if wait && !r.Status.Final() {
				if r, err = s.client.Follow(cmd.Context(), args[0], 2*time.Second, newProgress(os.Stderr).event); err != nil {
					return exitf(exitInfra, "following run %s: %v", args[0], err)
				}
			}
			return printReport(os.Stdout, r, asJSON)
		},
	}
	conn.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&reason, "reason", "", "why the run is cancelled (recorded in its report)")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the run has stopped and print its final report")
	return cmd
}

func runsPruneCommand() *cobra.Command {
	var (
		conn      connFlags
		asJSON    bool
		olderThan time.Duration
	)
	cmd := &cobra.Command{
		Use:   "prune --older-than DURATION",
		Short: "Delete the runs that ended more than DURATION ago (record, idempotency key, events)",
		Long: `Delete what fleetbook keeps of every run that ended more than --older-than ago: its record
(the report), its idempotency key and its events. Runs that have not ended are never deleted.
Coordinators also do this on their own for runs older than their --keep-runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan <= 0 {
				return exitf(exitRefused, "--older-than: give a positive duration, such as 720h")
			}
			s, err := conn.connect(cmd.Context(), "fleetbook runs prune")
			if err != nil {
				return err
			}
			defer s.stop()
			n, err := s.client.Prune(cmd.Context(), olderThan)
			if err != nil {
				return apiFailure(err, "runs prune", asJSON)
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(map[string]any{"pruned": n})
			}
			fmt.Printf("pruned %d runs that ended more than %s ago\n", n, olderThan)
			return nil
		},
	}
	conn.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"pruned\": N} as JSON")
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "delete runs that ended longer ago than this (required)")
	return cmd
}
