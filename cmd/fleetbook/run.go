package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
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

Ctrl-C (or SIGTERM) cancels the run: steps in flight are stopped, on_fail and post_book run,
locks are released, and the command prints the cancelled report. A second Ctrl-C leaves at
once: the run is left interrupted, and the command prints how to see and resume it.

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
				return refused(explained(err, doc, plugins.parse()...), args[0], asJSON)
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
			return submitAndFollow(ctx, s, &conn, protocol.SubmitRequest{
				Playbook: string(doc), Source: args[0], Inputs: inputs, IdempotencyKey: idemKey,
				Files: files, Timeout: timeout,
			}, args[0], "", asJSON, detach)
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

// submitAndFollow submits req and, unless detach, follows the run to its end with live
// progress, prints its report and exits with the run's code. note, when set, is said on stderr
// once the run is accepted.
func submitAndFollow(ctx context.Context, s *session, conn *connFlags, req protocol.SubmitRequest, source, note string, asJSON, detach bool) error {
	submitCtx, cancel := context.WithTimeout(ctx, submitTimeout)
	resp, err := s.client.Submit(submitCtx, req)
	cancel()
	if err != nil {
		return apiFailure(err, source, asJSON)
	}
	if note != "" {
		fmt.Fprintf(os.Stderr, "%s: run %s\n", note, visible(resp.RunID))
	}
	if detach {
		return printDetached(resp.RunID, asJSON)
	}
	report, err := followInterruptible(ctx, s, conn, resp.RunID)
	if err != nil {
		return err
	}
	if err := printReport(os.Stdout, report, asJSON); err != nil {
		return exitf(exitInfra, "%v", err)
	}
	return runExit(report)
}

// followInterruptible follows run id to its end with live progress on stderr. The first
// interrupt (SIGINT, SIGTERM) cancels the run and goes on following it while it stops; a second
// one leaves at once, saying what became of the run and the exact commands that see it and
// resume it.
func followInterruptible(ctx context.Context, s *session, conn *connFlags, id string) (*protocol.Report, error) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// main's context ends at the first interrupt too: the follow must outlive it.
	fctx, leave := context.WithCancel(context.WithoutCancel(ctx))
	defer leave()
	left := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-fctx.Done():
			return
		}
		fmt.Fprintf(os.Stderr, "fleetbook: interrupted: cancelling run %s (steps in flight stop, on_fail and post_book run, locks are released); Ctrl-C again leaves at once\n", visible(id))
		go func() {
			cctx, cancel := context.WithTimeout(fctx, submitTimeout)
			defer cancel()
			if _, err := s.client.Cancel(cctx, id, "interrupted (Ctrl-C) by the operator following it"); err != nil && fctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "fleetbook: cancelling run %s: %v\n", visible(id), err)
			}
		}()
		select {
		case <-sigs:
			close(left)
			leave()
		case <-fctx.Done():
		}
	}()
	report, err := s.client.Follow(fctx, id, 2*time.Second, newProgress(os.Stderr).event)
	select {
	case <-left:
		// Leave at once: what this process serves gets a moment to stop cleanly (an embedded
		// coordinator hands the run back), no more; a store survives being left mid-write.
		fmt.Fprintln(os.Stderr, "fleetbook:", visibleLines(conn.leftRun(id)))
		stopped := make(chan struct{})
		go func() { s.stop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(3 * time.Second):
		}
		os.Exit(exitInfra)
	default:
	}
	if err != nil {
		return nil, exitf(exitInfra, "following run %s: %v\n%s", id, err, conn.leftRun(id))
	}
	return report, nil
}

// leftRun says what became of run id when this command stops following it, with the exact
// commands that see it and, for an embedded session, resume it.
func (f *connFlags) leftRun(id string) string {
	if f.embedded {
		dir, err := filepath.Abs(f.dataDir)
		if err != nil {
			dir = f.dataDir
		}
		return fmt.Sprintf("left run %s interrupted: nothing drives it until a coordinator serves %s again, which resumes it (a cancelled run then runs its on_fail and post_book hooks and releases its locks).\n"+
			"  resume it: fleetbook up --data-dir %s\n  see it:    fleetbook runs show %s --embedded --data-dir %s",
			id, shellQuote(dir), shellQuote(dir), id, shellQuote(dir))
	}
	return fmt.Sprintf("left run %s: it goes on on the server.\n  follow it: fleetbook runs watch %s%s\n  see it:    fleetbook runs show %s%s",
		id, id, f.remoteArgs(), id, f.remoteArgs())
}

// remoteArgs are the flags that point another command at the server this one uses.
func (f *connFlags) remoteArgs() string {
	var b strings.Builder
	if f.server != "" {
		b.WriteString(" --server " + shellQuote(f.server))
	}
	if f.context != "" && f.context != os.Getenv("NATS_CONTEXT") {
		b.WriteString(" --context " + shellQuote(f.context))
	}
	if f.cred.creds != "" {
		b.WriteString(" --creds " + shellQuote(f.cred.creds))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func printDetached(id string, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]string{"id": id})
	}
	fmt.Println(visible(id))
	return nil
}
