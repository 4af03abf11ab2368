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
				for _, r := range validate.Rules() {
					fmt.Fprintf(out, "%s  %s\n", r.ID, r.Title)
				}
				return nil
			}
			r, ok := validate.Explain(strings.ToUpper(args[0]))
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
