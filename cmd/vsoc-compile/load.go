package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/validate"
)

// defaultDir is the customers folder every command reads by default.
const defaultDir = "customers"

// loadFlags are the flags of every command that reads a customers folder.
type loadFlags struct {
	cacheDir string
	noCache  bool
}

func (f *loadFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "where compiled files are cached by content (default: the user cache folder; without one, nothing is kept)")
	cmd.Flags().BoolVar(&f.noCache, "no-cache", false, "compile every file, and keep nothing")
}

func (f *loadFlags) cache() *compiler.Cache {
	if f.noCache {
		return compiler.NewCache("")
	}
	dir := f.cacheDir
	if dir == "" {
		dir = compiler.DefaultCacheDir()
	}
	return compiler.NewCache(dir)
}

func dirArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return defaultDir
}

// buildDir runs the whole pipeline on a folder. Load errors are reported
// here, in the requested format, and become a findings exit.
func buildDir(ctx context.Context, w io.Writer, dir, format string, flags *loadFlags) (*render.Result, error) {
	sources, err := compiler.ReadDir(dir)
	if err != nil {
		return nil, exitError{code: 2, err: err}
	}
	cache := flags.cache()
	v, err := validate.New(ctx)
	if err != nil {
		return nil, exitError{code: 2, err: err}
	}
	res, err := render.Build(ctx, v, dir, sources, cache)
	var loadErrs compiler.LoadErrors
	if errors.As(err, &loadErrs) {
		if werr := writeLoadErrors(w, format, loadErrs); werr != nil {
			return nil, exitError{code: 2, err: werr}
		}
		return nil, findings()
	}
	if err != nil {
		return nil, exitError{code: 2, err: err}
	}
	return res, nil
}

// writeLoadErrors reports malformed input the way violations are reported,
// so that CI annotations, editors and JSON consumers handle both: in JSON and
// GitHub annotations a load error is a violation of rule CUE.
func writeLoadErrors(w io.Writer, format string, errs compiler.LoadErrors) error {
	if format == "json" || format == "github" {
		vs := make([]validate.Violation, len(errs))
		for i, e := range errs {
			vs[i] = validate.Violation{Rule: loadRule.ID, Pos: e.Pos, Pointer: e.Pointer, Customer: e.Customer, Message: e.Message, Hint: e.Hint}
		}
		return validate.WriteReport(w, format, vs)
	}
	for _, e := range errs {
		if _, err := fmt.Fprintln(w, e.Error()); err != nil {
			return err
		}
	}
	what := "1 error"
	if len(errs) != 1 {
		what = fmt.Sprintf("%d errors", len(errs))
	}
	_, err := fmt.Fprintf(w, "%s: nothing was validated or built; fix the files above\n", what)
	return err
}

func checkFormat(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	return exitError{code: 2, err: fmt.Errorf("--format %q: use one of %s", format, strings.Join(allowed, ", "))}
}

// loadFleet loads a folder; load errors are reported to report in the requested
// format and become a findings exit.
func loadFleet(cmd *cobra.Command, report io.Writer, dir, format string, flags *loadFlags) (*compiler.Fleet, error) {
	sources, err := compiler.ReadDir(dir)
	if err != nil {
		return nil, exitError{code: 2, err: err}
	}
	cache := flags.cache()
	fleet, err := compiler.Load(cmd.Context(), dir, sources, cache)
	var loadErrs compiler.LoadErrors
	if errors.As(err, &loadErrs) {
		if werr := writeLoadErrors(report, format, loadErrs); werr != nil {
			return nil, exitError{code: 2, err: werr}
		}
		return nil, findings()
	}
	if err != nil {
		return nil, exitError{code: 2, err: err}
	}
	return fleet, nil
}
