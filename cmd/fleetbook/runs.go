package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/protocol"
)

func runsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "View past and current runs"}
	cmd.AddCommand(runsListCommand(), runsShowCommand(), runsCancelCommand(), runsPruneCommand(),
		runsWatchCommand(), runsLogsCommand(), runsRerunCommand(), runsNodesCommand())
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
			// The coordinator records a cancellation only on a run that has not ended, and then
			// answers with the run still going; an ended run comes back as it ended.
			if r.Status.Final() {
				return usageErr(asJSON, "run %s already ended (%s): there is nothing to cancel", args[0], r.Status)
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
		dryRun    bool
		yes       bool
	)
	cmd := &cobra.Command{
		Use:   "prune --older-than DURATION",
		Short: "Delete the runs that ended more than DURATION ago (record, idempotency key, events)",
		Long: `Delete what fleetbook keeps of every run that ended more than --older-than ago (90m, 36h,
7d): its record (the report), its idempotency key and its events. Runs that have not ended are
never deleted. --dry-run lists what would go and deletes nothing; otherwise the command asks
before deleting, or, without a terminal, needs --yes.
Coordinators also do this on their own for runs older than their --keep-runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan <= 0 {
				return usageErr(asJSON, "--older-than: give a positive duration, such as 7d or 720h")
			}
			ctx := cmd.Context()
			s, err := conn.connect(ctx, "fleetbook runs prune")
			if err != nil {
				return err
			}
			defer s.stop()
			if dryRun || !yes {
				old, err := endedBefore(ctx, s, time.Now().Add(-olderThan))
				if err != nil {
					return apiFailure(err, "runs prune", asJSON)
				}
				if dryRun {
					if asJSON {
						return json.NewEncoder(os.Stdout).Encode(map[string]any{"would_prune": len(old), "runs": old})
					}
					for _, r := range old {
						fmt.Printf("%s\t%s\t%s\tended %s\n", visible(r.ID), visible(r.Playbook.Name), r.Status, r.EndedAt.Local().Format(time.DateTime))
					}
					fmt.Printf("would prune %d runs that ended more than %s ago\n", len(old), olderThan)
					return nil
				}
				if len(old) == 0 {
					if asJSON {
						return json.NewEncoder(os.Stdout).Encode(map[string]any{"pruned": 0})
					}
					fmt.Printf("pruned 0 runs: none ended more than %s ago\n", olderThan)
					return nil
				}
				if !confirm(fmt.Sprintf("delete %d runs that ended more than %s ago, with their events?", len(old), olderThan)) {
					return usageErr(asJSON, "nothing deleted: confirm at the prompt, or give --yes (--dry-run lists what would go)")
				}
			}
			n, err := s.client.Prune(ctx, olderThan)
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
	cmd.Flags().Var(ageValue{&olderThan}, "older-than", "delete runs that ended longer ago than this: 90m, 36h, 7d (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list the runs that would be deleted, and delete nothing")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}

// endedBefore lists every run that ended before cutoff, newest first.
func endedBefore(ctx context.Context, s *session, cutoff time.Time) ([]protocol.RunSummary, error) {
	var out []protocol.RunSummary
	req := protocol.ListRunsRequest{Limit: 500, Until: cutoff,
		Status: []protocol.RunStatus{protocol.StatusSuccess, protocol.StatusFailed, protocol.StatusCancelled}}
	for {
		runs, next, err := s.client.ListRuns(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if !r.EndedAt.IsZero() && r.EndedAt.Before(cutoff) {
				out = append(out, r)
			}
		}
		if next == "" {
			return out, nil
		}
		req.Before = next
	}
}

// confirm asks question on the terminal and reports whether the answer is yes; without a
// terminal on stdin it does not ask and says no.
func confirm(question string) bool {
	if fi, err := os.Stdin.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	fmt.Fprintf(os.Stderr, "%s [y/N] ", question)
	var answer string
	_, _ = fmt.Fscanln(os.Stdin, &answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}
