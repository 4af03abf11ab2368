// Command vsoc-compile validates a customers repository, compiles it into the
// VSOC network's artifacts, previews a change and applies it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/internal/version"
)

// exitError carries the exit status: 1 for findings (violations, refused
// changes), 2 for usage and internal errors. Its message, if any, has been
// printed already.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }

// findings is the error of a run that worked and found something wrong.
func findings() error { return exitError{code: 1} }

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks the command to stop at its next step (apply leaves nothing the next
	// run cannot pick up); a CUE compile cannot be interrupted, so a second signal, with the
	// default disposition back, ends the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// tuneGC trades memory for CPU: compiling a file allocates a lot briefly, and
// collecting less often saves a third or more of the CPU time of a cold load.
// The memory limit keeps the peak of a 10,000-customer fleet bounded. The
// standard GOGC and GOMEMLIMIT variables still win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(768 << 20)
	}
}

func run(ctx context.Context, args []string) int {
	return runTo(ctx, args, os.Stdout)
}

// runTo runs the command with its output going to stdout; the exit status is 2 when writing it
// failed (a full disk), however the command ended: what it found was not seen.
func runTo(ctx context.Context, args []string, stdout io.Writer) int {
	root, finishProfile := newRootCmd()
	root.SetArgs(args)
	out := &outputWriter{w: stdout}
	root.SetOut(out)
	err := root.ExecuteContext(ctx)
	if perr := finishProfile(); perr != nil && err == nil {
		err = perr
	}
	var ee exitError
	switch {
	case out.err != nil && (err == nil || (errors.As(err, &ee) && ee.code < 2)):
		err = exitError{code: 2, err: fmt.Errorf("writing the output: %w", out.err)}
	case err == nil:
		return 0
	}
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "vsoc-compile:", ee.err)
		}
		return ee.code
	}
	// Anything else is a usage error (cobra's) or an internal one.
	fmt.Fprintln(os.Stderr, "vsoc-compile:", err)
	return 2
}

// outputWriter keeps the first error of a write to the command's output, so that a command that
// printed its result with fmt.Fprintf, which nobody checks, does not end with status 0 when the
// result was lost.
type outputWriter struct {
	w   io.Writer
	err error
}

func (o *outputWriter) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}

// newRootCmd returns the command tree, and what ends the CPU profile
// --cpuprofile started, to be called when the command returns.
func newRootCmd() (*cobra.Command, func() error) {
	root := &cobra.Command{
		Use:   "vsoc-compile",
		Short: "Validate, compile, preview and apply a VSOC customers repository",
		Long: `vsoc-compile compiles a customers repository (one CUE file per customer, default
folder customers/) into the VSOC network: CloudFormation stacks, DNS records,
Kubernetes manifests, the proxy's configuration and operators' SSH config.`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	finishProfile := profileFlags(root)
	root.AddCommand(
		newValidateCmd(),
		newExplainCmd(),
		newPlanCmd(),
		newBuildCmd(),
		newDiffCmd(),
		newApplyCmd(),
		newSchemaCmd(),
	)
	return root, finishProfile
}

// profileFlags adds --cpuprofile to every command: where a build's time goes
// is measured on the real command, with the real fleet, not guessed. The
// returned function ends the profile; it is called whatever the command's
// outcome, since a validation that finds violations (status 1) is as worth
// profiling as a clean one.
func profileFlags(root *cobra.Command) func() error {
	var path string
	var f *os.File
	root.PersistentFlags().StringVar(&path, "cpuprofile", "", "write a CPU profile (go tool pprof) of the command to this file")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if path == "" {
			return nil
		}
		var err error
		if f, err = os.Create(path); err != nil {
			return exitError{code: 2, err: fmt.Errorf("creating the CPU profile: %w", err)}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			f = nil
			return exitError{code: 2, err: fmt.Errorf("starting the CPU profile: %w", err)}
		}
		return nil
	}
	return func() error {
		if f == nil {
			return nil
		}
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return exitError{code: 2, err: fmt.Errorf("writing the CPU profile %s: %w", path, err)}
		}
		return nil
	}
}
