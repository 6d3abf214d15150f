package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/protocol"
)

func auditCommand() *cobra.Command {
	var (
		conn     connFlags
		asJSON   bool
		since    time.Duration
		limit    int
		identity string
		action   string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show who submitted, cancelled and pruned runs, and every refusal",
		Long: `Show the coordinators' audit records, oldest first: one per submit, cancel and prune they
allowed, and one per request they refused (policy or signature), each with its time, identity
(name and key), action, playbook, run id, decision and reason. Inputs are never recorded.
Reading them needs the policy's audit right.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < 0 {
				return exitf(exitRefused, "--since: give a positive duration, such as 24h")
			}
			if limit < 1 {
				return exitf(exitRefused, "--limit: give at least 1")
			}
			s, err := conn.connect(cmd.Context(), "fleetbook audit")
			if err != nil {
				return err
			}
			defer s.stop()
			req := protocol.AuditListRequest{Limit: limit, Identity: identity, Action: action}
			if since > 0 {
				req.Since = time.Now().Add(-since)
			}
			recs, err := s.client.Audit(cmd.Context(), req)
			if err != nil {
				return apiFailure(err, "audit", asJSON)
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(map[string]any{"records": recs})
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tIDENTITY\tACTION\tPLAYBOOK\tRUN\tDECISION\tREASON")
			for _, r := range recs {
				who := r.Identity.String()
				if r.Via != nil {
					// A console carried the request for the identity that signed in to it.
					who += " via " + r.Via.String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format(time.DateTime), who,
					r.Action, dash(r.Playbook), dash(r.RunID), r.Decision, r.Reason)
			}
			return tw.Flush()
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"records\": [...]} as JSON")
	cmd.Flags().Var(ageValue{&since}, "since", "only records of the last DURATION: 90m, 36h, 7d (default: all that are kept)")
	cmd.Flags().IntVarP(&limit, "limit", "n", 100, "show at most the newest N matching records")
	cmd.Flags().StringVar(&identity, "identity", "", "only records of this identity (name or public key), and for a console those it carried")
	cmd.Flags().StringVar(&action, "action", "", "only records of this action: submit, cancel, prune, read, audit, schedule or console")
	return cmd
}

// dash stands in for an empty column.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
