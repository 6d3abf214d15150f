package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/playbooks"
)

func validateCommand() *cobra.Command {
	var (
		in        inputFlags
		asJSON    bool
		pluginDir string
	)
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a playbook (and, with --input, its inputs) without running anything",
		Long: `Check a playbook exactly as a coordinator would before accepting it, and print every
problem with its line and field. Inputs are checked too when any are given.
Exit codes: 0 valid, 2 invalid.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := readPlaybook(args[0])
			if err != nil {
				return err
			}
			given, err := in.values()
			if err != nil {
				return err
			}
			plugins, err := loadPlugins(pluginDir)
			if err != nil {
				return err
			}
			pb, err := coordinator.ValidatePlaybook(doc, plugins.parse()...)
			if err == nil && (len(given) > 0 || in.file != "") {
				_, _, err = coordinator.Validate(doc, given, plugins.parse()...)
			}
			if err == nil {
				// The child playbooks `run` would send: each must stay inside this one's directory.
				if _, apiErr := childPlaybooks(args[0], doc, plugins.parse()...); apiErr != nil {
					err = apiErr
				}
			}
			if err != nil {
				return refused(err, args[0], asJSON)
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(map[string]any{
					"valid": true, "playbook": map[string]string{"name": pb.Name, "version": pb.Version},
					"warnings": warnings(pb),
				})
			}
			for _, w := range warnings(pb) {
				fmt.Fprintf(os.Stderr, "%s: warning: %s\n", args[0], w)
			}
			fmt.Printf("%s: playbook %s %s is valid\n", args[0], pb.Name, pb.Version)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&in.pairs, "input", "i", nil, "input value NAME=VALUE (repeatable)")
	cmd.Flags().StringVar(&in.file, "inputs", "", "file of input values (.json or .yaml)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	pluginsFlag(cmd, &pluginDir)
	return cmd
}

func warnings(pb *playbooks.Playbook) []string {
	out := []string{}
	for _, w := range pb.Warnings {
		out = append(out, w.String())
	}
	return out
}
