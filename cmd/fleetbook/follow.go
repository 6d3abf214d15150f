package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/protocol"
)

// getRun is the report of run id, a missing run refused (exit 2).
func getRun(ctx context.Context, s *session, id, source string, asJSON bool) (*protocol.Report, error) {
	r, err := s.client.Get(ctx, id)
	var apiErr *protocol.ErrorResponse
	if errors.As(err, &apiErr) && apiErr.Code == protocol.CodeNotFound {
		return nil, refused(apiErr, source, asJSON)
	}
	if err != nil {
		return nil, apiFailure(err, source, asJSON)
	}
	return r, nil
}

// runExit is the exit code of a command that followed a run to its end.
func runExit(r *protocol.Report) error {
	if r.Status != protocol.StatusSuccess {
		return silentExit(exitFailed)
	}
	return nil
}

func runsWatchCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a run to its end with live progress, as run does, and exit with its exit code",
		Long: `Re-attach to a run: print its progress from its first event on (stderr) until it ends, then
its report (stdout; --json for JSON), and exit as run would: 0 success, 1 failed or cancelled.
Ctrl-C stops watching; the run goes on. With --embedded, a run that has not ended is not driven
by anything (start ` + "`fleetbook up --data-dir DIR`" + ` to resume it, and watch through it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := conn.connect(ctx, "fleetbook runs watch")
			if err != nil {
				return err
			}
			defer s.stop()
			r, err := getRun(ctx, s, args[0], "runs watch", asJSON)
			if err != nil {
				return err
			}
			if !r.Status.Final() && conn.embedded {
				dir, _ := filepath.Abs(conn.dataDir)
				return exitf(exitInfra, "run %s is %s, but nothing drives it: resume it with `fleetbook up --data-dir %s`, then watch it with `fleetbook runs watch %s --context %s`",
					args[0], r.Status, shellQuote(dir), args[0], shellQuote(filepath.Join(dir, authDir, "context.json")))
			}
			if !r.Status.Final() {
				r, err = s.client.Follow(ctx, args[0], 2*time.Second, newProgress(os.Stderr).event)
				if err != nil {
					return exitf(exitInfra, "stopped watching run %s (%v); it goes on: fleetbook runs watch %s%s", args[0], err, args[0], conn.remoteArgs())
				}
			}
			if err := printReport(os.Stdout, r, asJSON); err != nil {
				return exitf(exitInfra, "%v", err)
			}
			return runExit(r)
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the final report as JSON")
	return cmd
}

func runsLogsCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a run's execution log (its events): every task start and end, retries, log lines",
		Long: `Print the events of a run, oldest first: the execution log of a past run, or of a running
one so far. --follow goes on printing until the run ends. --json prints one JSON event per line.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := conn.connect(ctx, "fleetbook runs logs")
			if err != nil {
				return err
			}
			defer s.stop()
			r, err := getRun(ctx, s, args[0], "runs logs", asJSON)
			if err != nil {
				return err
			}
			follow = follow && !r.Status.Final()
			if follow && conn.embedded {
				follow = false
				fmt.Fprintf(os.Stderr, "fleetbook: nothing drives run %s in this data dir: printing its log so far\n", visible(args[0]))
			}
			print := newProgress(os.Stdout).event
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				print = func(ev protocol.Event) { _ = enc.Encode(ev) }
			}
			if err := runEvents(ctx, s, args[0], follow, print); err != nil {
				return exitf(exitInfra, "events of run %s: %v", args[0], err)
			}
			return nil
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON event per line")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "go on printing events until the run ends")
	return cmd
}

// runEvents calls fn with every event of run id, oldest first: those stored now or, with
// follow, every one until the run's last.
func runEvents(ctx context.Context, s *session, id string, follow bool, fn func(protocol.Event)) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return err
	}
	cons, err := js.OrderedConsumer(ctx, protocol.EventsStreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{protocol.EventSubject(id)},
	})
	if err != nil {
		return err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	pending := info.NumPending
	if !follow && pending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		evs, _ := protocol.DecodeEvents(m.Data())
		finished := false
		for _, ev := range evs {
			fn(ev)
			finished = finished || ev.Type == protocol.EventRunFinished
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		if follow && finished || !follow && meta.NumPending == 0 {
			return nil
		}
	}
}

func runsRerunCommand() *cobra.Command {
	var (
		conn   connFlags
		in     inputFlags
		asJSON bool
		detach bool
	)
	cmd := &cobra.Command{
		Use:   "rerun ID",
		Short: "Run a run's playbook again with the same inputs (sensitive ones must be given again)",
		Long: `Submit the playbook of run ID again, as it was submitted (the same document and child
playbooks), with the same inputs, and follow it as run does. Sensitive inputs are never kept, so
give them again with --input NAME=VALUE; --input and --inputs also change any other input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			given, err := in.values()
			if err != nil {
				return err
			}
			s, err := conn.connect(ctx, "fleetbook runs rerun")
			if err != nil {
				return err
			}
			defer s.stop()
			old, err := s.client.GetWithDocument(ctx, args[0])
			var apiErr *protocol.ErrorResponse
			if errors.As(err, &apiErr) && apiErr.Code == protocol.CodeNotFound {
				return refused(apiErr, "runs rerun", asJSON)
			}
			if err != nil {
				return apiFailure(err, "runs rerun", asJSON)
			}
			if old.Document == "" {
				return exitf(exitInfra, "the coordinator sent no playbook document for run %s (an older coordinator?)", args[0])
			}
			inputs, dropped := map[string]any{}, []string{}
			for k, v := range old.Inputs {
				if str, ok := v.(string); ok && strings.Contains(str, protocol.Redacted) {
					dropped = append(dropped, k)
					continue
				}
				inputs[k] = v
			}
			for k, v := range given {
				inputs[k] = v
			}
			var missing []string
			for _, k := range dropped {
				if _, ok := given[k]; !ok {
					missing = append(missing, k)
				}
			}
			sort.Strings(missing)
			source := old.Source
			if source == "" {
				source = "run " + args[0]
			}
			if len(missing) > 0 {
				return refused(&protocol.ErrorResponse{Code: protocol.CodeInvalidInput,
					Message: fmt.Sprintf("sensitive inputs are never kept: give them again with --input NAME=VALUE: %s", strings.Join(missing, ", "))}, source, asJSON)
			}
			if _, _, err := coordinator.Validate([]byte(old.Document), inputs); err != nil {
				return refused(err, source, asJSON)
			}
			return submitAndFollow(ctx, s, &conn, protocol.SubmitRequest{
				Playbook: old.Document, Source: old.Source, Inputs: inputs, IdempotencyKey: uuid.NewString(), Files: old.Files,
			}, source, "rerun of "+visible(args[0]), asJSON, detach)
		},
	}
	conn.register(cmd)
	cmd.Flags().StringArrayVarP(&in.pairs, "input", "i", nil, "input value NAME=VALUE (repeatable): sensitive inputs, or a change")
	cmd.Flags().StringVar(&in.file, "inputs", "", "file of input values (.json or .yaml)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the final report as JSON on stdout")
	cmd.Flags().BoolVar(&detach, "detach", false, "return once the run is accepted, printing its id")
	return cmd
}
