package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/protocol"
)

// submitTimeout bounds how long run waits for a coordinator to accept a submission.
const submitTimeout = 30 * time.Second

func runCommand() *cobra.Command {
	var (
		conn    connFlags
		in      inputFlags
		asJSON  bool
		detach  bool
		idemKey string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a playbook and follow it to the end",
		Long: `Submit a playbook run and follow its progress (on stderr) until it ends.

Exit codes: 0 the run succeeded, 1 it ran and failed, 2 it was refused before anything
ran (bad YAML, invalid playbook or input, usage), 3 infrastructure (no server, timeout).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return exitf(exitRefused, "--timeout must not be negative, got %s", timeout)
			}
			doc, err := readPlaybook(args[0])
			if err != nil {
				return err
			}
			inputs, err := in.values()
			if err != nil {
				return err
			}
			plugins, err := loadPlugins(conn.plugins)
			if err != nil {
				return err
			}
			// Refuse a bad playbook before starting or reaching any server.
			if _, _, err := coordinator.Validate(doc, inputs, plugins.parse()...); err != nil {
				return refused(err, args[0], asJSON)
			}
			files, apiErr := childPlaybooks(args[0], doc, plugins.parse()...)
			if apiErr != nil {
				return refused(apiErr, args[0], asJSON)
			}
			if idemKey == "" {
				idemKey = uuid.NewString()
			}
			ctx := cmd.Context()
			s, err := conn.connect(ctx, "fleetbook run")
			if err != nil {
				return err
			}
			defer s.stop()
			submitCtx, cancel := context.WithTimeout(ctx, submitTimeout)
			resp, err := s.client.Submit(submitCtx, protocol.SubmitRequest{
				Playbook: string(doc), Source: args[0], Inputs: inputs, IdempotencyKey: idemKey,
				Files: files, Timeout: timeout,
			})
			cancel()
			if err != nil {
				return apiFailure(err, args[0], asJSON)
			}
			if detach {
				return printDetached(resp.RunID, asJSON)
			}
			p := newProgress(os.Stderr)
			report, err := s.client.Follow(ctx, resp.RunID, 2*time.Second, p.event)
			if err != nil {
				return exitf(exitInfra, "following run %s: %v (it goes on; see: fleetbook runs show %s)", resp.RunID, err, resp.RunID)
			}
			if err := printReport(os.Stdout, report, asJSON); err != nil {
				return exitf(exitInfra, "%v", err)
			}
			if report.Status != protocol.StatusSuccess {
				return silentExit(exitFailed)
			}
			return nil
		},
	}
	conn.register(cmd)
	conn.registerFleet(cmd)
	cmd.Flags().StringArrayVarP(&in.pairs, "input", "i", nil, "input value NAME=VALUE (repeatable)")
	cmd.Flags().StringVar(&in.file, "inputs", "", "file of input values (.json or .yaml)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the final report as JSON on stdout")
	pluginsFlag(cmd, &conn.plugins)
	cmd.Flags().BoolVar(&detach, "detach", false, "return once the run is accepted, printing its id")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop the run (as if cancelled) if it has not ended this long after it was accepted")
	cmd.Flags().StringVar(&idemKey, "idempotency-key", "", "submit under this key: repeating a command with the same key gives the same run (default: a new key)")
	return cmd
}

func printDetached(id string, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]string{"id": id})
	}
	fmt.Println(visible(id))
	return nil
}
