package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/validate"
)

func newExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain [RULE]",
		Short: "Explain a validation rule (VSOC002), or list them all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 0 {
				fmt.Fprintf(out, "%-7s  %s\n", loadRule.ID, loadRule.Title)
				for _, r := range validate.Rules() {
					fmt.Fprintf(out, "%s  %s\n", r.ID, r.Title)
				}
				return nil
			}
			r, ok := validate.Explain(strings.ToUpper(args[0]))
			if strings.EqualFold(args[0], loadRule.ID) {
				r, ok = loadRule, true
			}
			if !ok {
				return exitError{code: 2, err: fmt.Errorf("no rule %q: `vsoc-compile explain` lists them", args[0])}
			}
			fmt.Fprintf(out, "%s: %s\n\n%s\n", r.ID, r.Title, strings.TrimSpace(r.Explanation))
			if r.Hint != "" {
				fmt.Fprintf(out, "\nHow to fix: %s\n", strings.TrimSpace(r.Hint))
			}
			return nil
		},
	}
}

// loadRule is the rule JSON and GitHub reports give a file that does not load: it is CUE's own
// check, before any rego rule runs.
var loadRule = validate.Rule{
	ID:    "CUE",
	Title: "every file loads: CUE syntax, the schema's fields and types",
	Explanation: `Each file of the customers folder is compiled with CUE against vsoc's schema (the
schema.cue the folder vendors is that schema, for editors and cue vet). A syntax error, a field
the schema does not know, a value of the wrong type or outside a field's allowed values, or a
customer or the hub declared twice or in the wrong file stops the run before the rules: reports
give these as violations of rule CUE, at CUE's own position, and say "nothing was validated or
built". vsoc-compile schema prints the schema, with comments on the fields.`,
	Hint: "fix the file at the position given; for the fields and their allowed values, see vsoc-compile schema",
}
