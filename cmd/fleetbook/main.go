// Command fleetbook runs playbooks across fleets over NATS JetStream: one binary that is the
// command line, the coordinator, the worker and, by default, an embedded NATS server.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := rootCommand()
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// cobra's own errors: unknown flags, wrong argument counts.
		ee = &exitError{code: exitRefused, err: err}
	}
	if ee.err != nil {
		fmt.Fprintln(os.Stderr, "fleetbook:", visibleLines(ee.err.Error()))
		if wantsJSON(cmd) {
			printJSONError(jsonErrorOut, ee.code, ee.err)
		}
	}
	os.Exit(ee.code)
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "fleetbook",
		Short:         "Run infrastructure playbooks across fleets over NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	registerLogFlags(root)
	root.AddCommand(runCommand(), validateCommand(), showCommand(), schemaCommand(), runsCommand(), scheduleCommand(),
		upCommand(), coordinatorCommand(), workerCommand(), consoleCommand(), agentCommand(), benchCommand(), authCommand(), auditCommand())
	groups(root)
	return root
}

// groups makes every command below root that only holds subcommands refuse an unknown one.
func groups(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		if sub.HasSubCommands() && sub.Run == nil && sub.RunE == nil {
			groupCommand(sub)
		}
		groups(sub)
	}
}
