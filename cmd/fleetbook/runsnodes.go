package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/protocol"
)

// stepNodes is one step's nodes as `runs nodes --json` prints them.
type stepNodes struct {
	Seq         int    `json:"seq"`
	Type        string `json:"type"`
	Description string `json:"description"`
	// OK, Failed, TotalMatching and Complete are as in protocol.RunNodesResponse.
	OK            int                `json:"ok"`
	Failed        int                `json:"failed"`
	TotalMatching int                `json:"total_matching"`
	Complete      bool               `json:"complete"`
	Nodes         []protocol.RunNode `json:"nodes"`
}

func runsNodesCommand() *cobra.Command {
	var (
		conn       connFlags
		asJSON     bool
		failed, ok bool
		req        protocol.RunNodesRequest
	)
	cmd := &cobra.Command{
		Use:   "nodes ID",
		Short: "List every node's outcome of a run's rpc steps",
		Long: `List every node's outcome of a run's rpc steps (of step --step N only, the number
"runs show" gives it), paging through all of them: the report keeps at most 1,000 nodes per step,
this lists every one. --failed or --ok keeps the nodes of that outcome, --search the nodes whose
identity contains the text. A run whose results are no longer kept lists the nodes its report
kept and says so.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case failed && ok:
				return usageErr(asJSON, "--failed and --ok: give one of them")
			case failed:
				req.Outcome = protocol.OutcomeFailed
			case ok:
				req.Outcome = protocol.OutcomeOK
			}
			if cmd.Flags().Changed("step") && req.Seq < 1 {
				return usageErr(asJSON, "--step: give the step's number, from 1")
			}
			req.RunID = args[0]
			s, err := conn.connect(cmd.Context(), "fleetbook runs nodes")
			if err != nil {
				return err
			}
			defer s.stop()
			steps, err := nodeSteps(cmd.Context(), s.client, req)
			if err == nil {
				err = printStepNodes(cmd.Context(), s.client, req, steps, asJSON)
			}
			var apiErr *protocol.ErrorResponse
			if errors.As(err, &apiErr) && apiErr.Code == protocol.CodeNotFound {
				return exitf(exitRefused, "%s", apiErr.Message)
			}
			if err != nil {
				return apiFailure(err, "runs nodes", asJSON)
			}
			return nil
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().IntVar(&req.Seq, "step", 0, "only the step of this number (runs show numbers them); default: every rpc step")
	cmd.Flags().BoolVar(&failed, "failed", false, "only the nodes the step failed on")
	cmd.Flags().BoolVar(&ok, "ok", false, "only the nodes the step succeeded on")
	cmd.Flags().StringVar(&req.Search, "search", "", "only the nodes whose identity contains this text")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"run_id": ID, "steps": [{"seq", "ok", "failed", "total_matching", "complete", "nodes": [...]}]} as JSON`)
	return cmd
}

// nodeSteps are the steps req lists: its step, or every rpc step of the run.
func nodeSteps(ctx context.Context, c *coordinator.Client, req protocol.RunNodesRequest) ([]stepNodes, error) {
	r, err := c.Get(ctx, req.RunID)
	if err != nil {
		return nil, err
	}
	var steps []stepNodes
	for _, t := range r.Tasks {
		if (req.Seq == 0 && t.Type == protocol.TaskRPC) || t.Number == req.Seq {
			steps = append(steps, stepNodes{Seq: t.Number, Type: t.Type, Description: t.Description})
		}
	}
	if req.Seq != 0 && len(steps) == 0 {
		return nil, &protocol.ErrorResponse{Code: protocol.CodeNotFound, Message: fmt.Sprintf("run %s has no step %d (it has %d)", req.RunID, req.Seq, len(r.Tasks))}
	}
	return steps, nil
}

// printStepNodes pages through the nodes of each step, printing a table per step as its pages
// come, or one JSON document at the end.
func printStepNodes(ctx context.Context, c *coordinator.Client, req protocol.RunNodesRequest, steps []stepNodes, asJSON bool) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for i := range steps {
		st := &steps[i]
		st.Nodes = []protocol.RunNode{}
		req.Seq, req.Offset, req.Limit = st.Seq, 0, 1000
		for {
			page, err := c.ListRunNodes(ctx, req)
			if err != nil {
				return err
			}
			st.OK, st.Failed, st.TotalMatching, st.Complete = page.OK, page.Failed, page.TotalMatching, page.Complete
			if asJSON {
				st.Nodes = append(st.Nodes, page.Nodes...)
			} else {
				if req.Offset == 0 {
					printStepHeader(tw, st)
				}
				for _, n := range page.Nodes {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", visible(n.Identity), map[bool]string{true: "ok", false: "failed"}[n.Success], visible(n.Msg))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if page.NextOffset == 0 {
				break
			}
			req.Offset = page.NextOffset
		}
	}
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"run_id": req.RunID, "steps": steps})
	}
	if len(steps) == 0 {
		fmt.Println("the run has no rpc step")
	}
	return nil
}

// printStepHeader introduces a step's table.
func printStepHeader(w io.Writer, st *stepNodes) {
	fmt.Fprintf(w, "step %d, %s %s: %d ok, %d failed", st.Seq, st.Type, visible(st.Description), st.OK, st.Failed)
	if st.TotalMatching != st.OK+st.Failed {
		fmt.Fprintf(w, ", %d matching", st.TotalMatching)
	}
	if !st.Complete {
		fmt.Fprint(w, " (incomplete: the step's results are no longer kept; these are the nodes its report kept)")
	}
	fmt.Fprint(w, "\nIDENTITY\tOUTCOME\tMSG\n")
}
