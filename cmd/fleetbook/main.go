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
	err := root.ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// cobra's own errors: unknown flags, wrong argument counts.
		fmt.Fprintln(os.Stderr, "fleetbook:", visibleLines(err.Error()))
		os.Exit(exitRefused)
	}
	if ee.err != nil {
		fmt.Fprintln(os.Stderr, "fleetbook:", visibleLines(ee.err.Error()))
	}
	os.Exit(ee.code)
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "fleetbook",
		Short:         "Run infrastructure playbooks across fleets over NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCommand(), validateCommand(), showCommand(), schemaCommand(), runsCommand(), scheduleCommand(),
		upCommand(), coordinatorCommand(), workerCommand(), agentCommand(), benchCommand(), authCommand(), auditCommand())
	return root
}
