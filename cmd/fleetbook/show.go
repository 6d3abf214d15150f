package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/playbooks"
)

func showCommand() *cobra.Command {
	var (
		asJSON    bool
		pluginDir string
	)
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Describe a playbook: metadata, inputs, node sets and task lists",
		Long: `Validate a playbook and describe it: its inputs (type, default, required, sensitive,
description), node sets, data stores, locks and task lists. With --json, print the decoded
document (anchors and merge keys applied) as JSON. Defaults of sensitive inputs are redacted.
Exit codes: 0 shown, 2 invalid.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plugins, err := loadPlugins(pluginDir)
			if err != nil {
				return err
			}
			pb, err := playbooks.ParseFile(args[0], plugins.parse()...)
			if err != nil {
				return exitf(exitRefused, "%v", err)
			}
			d := pb.Describe()
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			for _, w := range d.Warnings {
				fmt.Fprintf(os.Stderr, "%s: warning: %s\n", args[0], w)
			}
			return printDescription(os.Stdout, d)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the description as JSON")
	pluginsFlag(cmd, &pluginDir)
	return cmd
}

// printDescription writes a playbook description for people.
func printDescription(w io.Writer, d playbooks.Description) error {
	fmt.Fprintf(w, "Playbook %s %s\n", d.Name, d.Version)
	fmt.Fprintf(w, "  %s\n", d.Description)
	fmt.Fprintf(w, "  author: %s\n", d.Author)
	if len(d.Tags) > 0 {
		fmt.Fprintf(w, "  tags: %s\n", strings.Join(d.Tags, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INPUT\tTYPE\tDEFAULT\tREQUIRED\tSENSITIVE\tDESCRIPTION")
	for _, in := range d.Inputs {
		def := "-"
		if in.HasDefault {
			b, _ := json.Marshal(in.Default)
			def = string(b)
		}
		req := yesNo(in.Required)
		if in.Data != "" {
			req += " (data: " + in.Data + ")"
		}
		if in.Dynamic {
			req += " (dynamic)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.Type, def, req, yesNo(in.Sensitive), in.Description)
	}
	if len(d.Inputs) == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Nodes) > 0 {
		fmt.Fprintln(w, "\nNode sets:")
		for _, ns := range d.Nodes {
			fmt.Fprintf(w, "  %s (%s, at least %d%s)\n", ns.Name, ns.Type, ns.AtLeast, nodeSetNotes(ns))
		}
	}
	if len(d.DataStores) > 0 {
		fmt.Fprintln(w, "\nData stores:")
		for _, name := range sortedNames(d.DataStores) {
			fmt.Fprintf(w, "  %s (%s)\n", name, d.DataStores[name])
		}
	}
	if len(d.Locks) > 0 {
		fmt.Fprintf(w, "\nLocks: %s\n", strings.Join(d.Locks, ", "))
	}
	for _, l := range d.Lists {
		fmt.Fprintf(w, "\n%s:\n", l.List)
		for i, t := range l.Tasks {
			fmt.Fprintf(w, "  %d. %s: %s%s\n", i+1, t.Type, t.Description, taskNotes(t))
		}
	}
	return nil
}

// nodeSetNotes lists a node set's limit and test settings.
func nodeSetNotes(ns playbooks.NodeSetInfo) string {
	notes := ""
	if ns.Limit > 0 {
		notes += fmt.Sprintf(", limit %d", ns.Limit)
	}
	if ns.Test {
		notes += ", tested"
	}
	return notes
}

// taskNotes lists a task's tries, fail_ok and register settings.
func taskNotes(t playbooks.TaskInfo) string {
	notes := ""
	if t.Tries > 1 {
		notes += fmt.Sprintf(" (tries %d)", t.Tries)
	}
	if t.FailOK {
		notes += " (fail_ok)"
	}
	if t.Register != "" {
		notes += " -> tasks." + t.Register
	}
	return notes
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func sortedNames(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
