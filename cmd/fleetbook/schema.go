package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/playbooks"
)

func schemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema (draft 2020-12) of the playbook format, for editors",
		Long: `Print the JSON Schema of the playbook format. Save it and point your editor at it, or
name it in a playbook's $schema key. It is generated from the tables the validator uses; the
validator (fleetbook validate) checks more than a schema can (templates, references).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := os.Stdout.Write(playbooks.JSONSchema())
			return err
		},
	}
}
