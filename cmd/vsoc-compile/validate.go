package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/wording"
	"github.com/vsoc/vsoc/validate"
)

func newValidateCmd() *cobra.Command {
	var (
		format string
		flags  loadFlags
	)
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a customers folder against the schema and the policies (the CI gate)",
		Long: `validate loads every customer file against the schema and evaluates the
policies over the fleet. It prints every violation, sorted by file and line, and
exits 1 when there is any (2 on usage or internal errors).

Formats: text (compiler style), json, github (workflow annotations).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json", "github"); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fleet, res, err := buildValidateOnly(cmd, dirArg(args), format, &flags)
			if err != nil {
				return err
			}
			if err := validate.WriteReport(out, format, res); err != nil {
				return exitError{code: 2, err: err}
			}
			if len(res) > 0 {
				return findings()
			}
			if format == "text" {
				fmt.Fprintf(out, "%s: the hub and %s validate clean\n", dirArg(args), wording.Count(len(fleet.Customers), "customer"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, json or github")
	flags.register(cmd)
	return cmd
}

// buildValidateOnly loads and validates without rendering: the gate must
// not depend on the renderers.
func buildValidateOnly(cmd *cobra.Command, dir, format string, flags *loadFlags) (*compiler.Fleet, []validate.Violation, error) {
	fleet, err := loadFleet(cmd, cmd.OutOrStdout(), dir, format, flags)
	if err != nil {
		return nil, nil, err
	}
	v, err := validate.New(cmd.Context())
	if err != nil {
		return nil, nil, exitError{code: 2, err: err}
	}
	vs, err := v.Validate(cmd.Context(), fleet)
	if err != nil {
		return nil, nil, exitError{code: 2, err: err}
	}
	return fleet, vs, nil
}
