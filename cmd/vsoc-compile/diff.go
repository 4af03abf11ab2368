package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/diff"
	"github.com/vsoc/vsoc/validate"
)

func newDiffCmd() *cobra.Command {
	var (
		base    string
		format  string
		details bool
		flags   loadFlags
	)
	cmd := &cobra.Command{
		Use:   "diff --base REF [DIR]",
		Short: "Preview what a change to the customers repository does",
		Long: `diff compiles the customers folder DIR (default customers) as it is in the
working tree and as it was at the git ref REF (read from git objects; the
working tree is not touched), and shows what changes per customer: CloudFormation
resources added, modified, replaced or removed (destructive changes first), DNS,
Kubernetes manifests, proxy and SSH config. The head's validation is part of the
preview.

Exit status: 0 when the head is valid, 1 when it is malformed or has
violations, 2 for usage errors (such as a base ref that was not fetched).`,
		Example: `  vsoc-compile diff --base origin/main
  vsoc-compile diff --base origin/main --format markdown > preview.md`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if base == "" {
				return exitError{code: 2, err: errors.New("diff needs --base REF, the git ref to compare with (e.g. --base origin/main)")}
			}
			if err := checkFormat(format, diff.Formats...); err != nil {
				return err
			}
			cache := flags.cache()
			ctx := cmd.Context()
			v, err := validate.New(ctx)
			if err != nil {
				return exitError{code: 2, err: err}
			}
			p, err := diff.Run(ctx, diff.Options{Dir: dirArg(args), Base: base, Validator: v, Cache: cache})
			if err != nil {
				return exitError{code: 2, err: err}
			}
			text := diff.TextOptions{Color: colorful(cmd), Details: details}
			if err := diff.Write(cmd.OutOrStdout(), format, p, text); err != nil {
				return exitError{code: 2, err: fmt.Errorf("writing the preview: %w", err)}
			}
			if p.Failed() {
				return findings()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "git ref of the base to compare with, e.g. origin/main (required)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: "+strings.Join(diff.Formats, ", "))
	cmd.Flags().BoolVar(&details, "details", false, "text: show every changed value")
	flags.register(cmd)
	return cmd
}

// colorful reports whether the output is a terminal and NO_COLOR is unset
// (https://no-color.org: any non-empty value turns colour off).
func colorful(cmd *cobra.Command) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := cmd.OutOrStdout().(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
