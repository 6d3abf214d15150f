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
	cmd.AddCommand(runsListCommand(), runsShowCommand(), runsCancelCommand(), runsPruneCommand(),
		runsWatchCommand(), runsLogsCommand(), runsRerunCommand())
	return cmd
}

func runsListCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
		limit  int
		status []string
		since  string
		until  string
		req    protocol.ListRunsRequest
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Long: `List runs, newest first, --limit at a time. Filters combine: --status (repeatable or
comma-separated), --playbook NAME, --submitter NAME|KEY, --schedule NAME, --since and --until (a
time such as 2026-12-01T10:00:00Z or 2026-12-01, or an age such as 36h or 7d). When more runs
match, the listing says how to get the next page (--before ID; "next" in the JSON).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			for _, st := range status {
				req.Status = append(req.Status, protocol.RunStatus(st))
			}
			var err error
			if since != "" {
				if req.Since, err = parseWhen(since, now); err != nil {
					return usageErr(asJSON, "--since: %v", err)
				}
			}
			if until != "" {
				if req.Until, err = parseWhen(until, now); err != nil {
					return usageErr(asJSON, "--until: %v", err)
				}
			}
			if limit < 1 {
				return usageErr(asJSON, "--limit: give at least 1")
			}
			req.Limit = limit
			s, err := conn.connect(cmd.Context(), "fleetbook runs list")
			if err != nil {
				return err
			}
			defer s.stop()
			runs, next, err := s.client.ListRuns(cmd.Context(), req)
			if err != nil {
				return apiFailure(err, "runs list", asJSON)
			}
			if asJSON {
				out := map[string]any{"runs": runs}
				if next != "" {
					out["next"] = next
				}
				return json.NewEncoder(os.Stdout).Encode(out)
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
			if err := tw.Flush(); err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintf(os.Stderr, "more runs match: add --before %s for the next page\n", visible(next))
			}
			return nil
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"runs\": [...], \"next\": ID} as JSON")
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "show at most this many runs")
	cmd.Flags().StringSliceVar(&status, "status", nil, "only runs in this status: pending, running, success, failed, cancelled (repeatable)")
	cmd.Flags().StringVar(&req.Playbook, "playbook", "", "only runs of the playbook of this name")
	cmd.Flags().StringVar(&req.Submitter, "submitter", "", "only runs submitted by this identity (name or public key)")
	cmd.Flags().StringVar(&req.Schedule, "schedule", "", "only runs started by this schedule")
	cmd.Flags().StringVar(&since, "since", "", "only runs created since this time or age (2026-12-01, 36h, 7d)")
	cmd.Flags().StringVar(&until, "until", "", "only runs created before this time or age")
	cmd.Flags().StringVar(&req.Before, "before", "", "the next page: runs listed after this run id")
	return cmd
}

// usageErr refuses the command's usage (exit 2), as JSON on stdout too with --json.
func usageErr(asJSON bool, format string, args ...any) error {
	return refused(&protocol.ErrorResponse{Code: protocol.CodeBadRequest, Message: fmt.Sprintf(format, args...)}, "fleetbook", asJSON)
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
