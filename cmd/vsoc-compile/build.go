package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/internal/wording"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/validate"
)

func newBuildCmd() *cobra.Command {
	var (
		out   string
		flags loadFlags
	)
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Compile the fleet into OUT: CloudFormation, DNS, Kubernetes, proxy and SSH config",
		Long: `build validates the fleet and, when it is clean, writes every artifact into OUT
(default out/). OUT is replaced as a whole: a failed build leaves the previous
OUT untouched, and the same input always gives byte-identical files.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutSparesInput(out, dirArg(args)); err != nil {
				return exitError{code: 2, err: err}
			}
			w := cmd.OutOrStdout()
			res, err := buildDir(cmd.Context(), w, dirArg(args), "text", &flags)
			if err != nil {
				return err
			}
			if len(res.Violations) > 0 {
				if err := validate.WriteReport(w, "text", res.Violations); err != nil {
					return exitError{code: 2, err: err}
				}
				fmt.Fprintf(w, "nothing written to %s\n", out)
				return findings()
			}
			var left *render.PreviousLeftError
			if err := render.Write(out, res.Files); errors.As(err, &left) {
				fmt.Fprintf(cmd.ErrOrStderr(), "vsoc-compile: warning: %v (hint: remove it by hand)\n", left)
			} else if err != nil {
				return exitError{code: 2, err: err}
			}
			return writeBuildSummary(w, out, len(res.Plan.Customers), res.Files)
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "out", "output folder (replaced as a whole)")
	flags.register(cmd)
	return cmd
}

// checkOutSparesInput refuses an OUT that is the customers folder dir or holds it: OUT is replaced
// as a whole, which would delete the input. render.Write's own check, that OUT holds only a
// build's folders, lets through a customers folder named like one of them (deploy/kube -o deploy).
// The folders are compared as files (device and inode), so relative paths, ".." and symbolic links
// in dir do not hide it; OUT itself is taken as render.Write takes it: a symbolic link there is
// replaced, never followed, and deletes nothing.
func checkOutSparesInput(out, dir string) error {
	outInfo, err := os.Lstat(filepath.Clean(out))
	if err != nil || !outInfo.IsDir() {
		return nil // nothing there, a link or a file: replacing it deletes no folder
	}
	p, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("checking that %s does not hold %s: %w", out, dir, err)
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	for {
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, outInfo) {
			return fmt.Errorf("refusing to replace %s: it holds the customers folder %s, which a build replacing it would delete (hint: choose another output folder with -o)", out, dir)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// writeBuildSummary says what was written, per top-level folder.
func writeBuildSummary(w io.Writer, out string, customers int, files render.Files) error {
	counts := map[string]int{}
	bytes := map[string]int{}
	for name, content := range files {
		top, _, _ := strings.Cut(name, "/")
		counts[top]++
		bytes[top] += len(content)
	}
	tops := make([]string, 0, len(counts))
	for t := range counts {
		tops = append(tops, t)
	}
	sort.Strings(tops)
	fmt.Fprintf(w, "built %s + hub into %s/\n", wording.Count(customers, "customer"), filepath.Clean(out))
	for _, t := range tops {
		fmt.Fprintf(w, "  %-6s %5d files  %8d bytes\n", t+"/", counts[t], bytes[t])
	}
	return nil
}
