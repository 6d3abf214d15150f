package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/worker"
)

// pluginsFlag registers --plugins DIR on cmd.
func pluginsFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "plugins", "", "directory of plugin task types: executable DIR/TYPE with its spec DIR/TYPE.yaml")
}

// pluginOptions checks every spec of dir up front, so a broken plugin stops the worker at start
// rather than failing its tasks later, and returns the worker option using dir.
func pluginOptions(dir string) ([]worker.Option, error) {
	if dir == "" {
		return nil, nil
	}
	if _, err := playbooks.LoadPlugins(dir); err != nil {
		return nil, exitf(exitRefused, "--plugins %s: %v", dir, err)
	}
	return []worker.Option{worker.WithPluginDir(dir)}, nil
}
