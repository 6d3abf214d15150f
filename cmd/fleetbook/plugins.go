package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/worker"
)

// pluginsFlag registers --plugins DIR on cmd.
func pluginsFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "plugins", "", "directory of plugin task types: executable DIR/TYPE with its spec DIR/TYPE.yaml")
}

// pluginSet is a loaded plugin directory: the workers run its executables, and coordinators and
// the command line validate playbooks against its specs.
type pluginSet struct {
	dir   string
	specs map[string]playbooks.PluginSpec
}

// loadPlugins checks every spec of dir up front, so a broken plugin stops the process at start
// rather than failing its tasks later. An empty dir is no plugins.
func loadPlugins(dir string) (pluginSet, error) {
	if dir == "" {
		return pluginSet{}, nil
	}
	specs, err := playbooks.LoadPlugins(dir)
	if err != nil {
		return pluginSet{}, exitf(exitRefused, "--plugins %s: %v", dir, err)
	}
	return pluginSet{dir: dir, specs: specs}, nil
}

func (p pluginSet) worker() []worker.Option {
	if p.dir == "" {
		return nil
	}
	return []worker.Option{worker.WithPluginDir(p.dir)}
}

func (p pluginSet) coordinator() []coordinator.Option {
	if p.dir == "" {
		return nil
	}
	return []coordinator.Option{coordinator.WithPlugins(p.specs)}
}

func (p pluginSet) parse() []playbooks.ParseOption {
	if p.dir == "" {
		return nil
	}
	return []playbooks.ParseOption{playbooks.WithPlugins(p.specs)}
}
