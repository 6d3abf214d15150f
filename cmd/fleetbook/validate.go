package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/playbooks"
)

func validateCommand() *cobra.Command {
	var (
		in          inputFlags
		asJSON      bool
		pluginDir   string
		checkInputs bool
	)
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a playbook (and, with --input, its inputs) without running anything",
		Long: `Check a playbook exactly as a coordinator would before accepting it, and print every
problem with its line and field. Inputs are checked too, as a run would check them, when any
are given (--input, --inputs) or with --check-inputs (none given: every required input without
a default is then missing). Otherwise the inputs are not checked, and the output says so and
names the inputs a run must be given.
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
			inputsChecked := len(given) > 0 || in.file != "" || checkInputs
			if err == nil && inputsChecked {
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
					"warnings": warnings(pb), "inputs_checked": inputsChecked, "inputs_needed": pb.NeededInputs(),
				})
			}
			for _, w := range warnings(pb) {
				fmt.Fprintf(os.Stderr, "%s: warning: %s\n", args[0], w)
			}
			fmt.Printf("%s: playbook %s %s is valid%s\n", args[0], pb.Name, pb.Version, inputsNote(pb, inputsChecked))
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&in.pairs, "input", "i", nil, "input value NAME=VALUE (repeatable)")
	cmd.Flags().StringVar(&in.file, "inputs", "", "file of input values (.json or .yaml)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	cmd.Flags().BoolVar(&checkInputs, "check-inputs", false, "check the inputs even when none are given (a required input without a default is missing)")
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

// inputsNote is what the valid line adds about the inputs: nothing when they were checked,
// otherwise that they were not, and which ones a run needs.
func inputsNote(pb *playbooks.Playbook, checked bool) string {
	if checked {
		return ", with its inputs"
	}
	note := "; inputs not checked (give them with --input or --inputs, or use --check-inputs)"
	if need := pb.NeededInputs(); len(need) > 0 {
		note += "; a run must be given: " + strings.Join(need, ", ")
	}
	return note
}
