// Command vsoc-sniproxy is the forward proxy bundled in each customer's cluster: TLS routed by SNI,
// HTTP by Host, HTTP CONNECT for SSH, only ever dialling the customer's declared destinations.
//
//	vsoc-sniproxy --config /etc/vsoc-sniproxy/config.yaml
//
// SIGHUP or a change of the config file reloads it (new connections use it, open ones are
// untouched; an invalid file is refused and logged). SIGHUP also reopens an audit file given by
// path, for rename rotation (logrotate's default: move the file, then send SIGHUP, as for nginx).
// SIGTERM/SIGINT stop accepting, drain open connections up to timeouts.drain, then exit.
//
// The audit is written off the event loops: a destination that stops accepting costs audit lines
// (dropped once the buffer is full, counted in vsoc_sniproxy_audit_lines_lost_total), not
// connections, and /healthz fails once a write has lasted --audit-stall-limit, so that the
// liveness probe restarts the proxy.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/internal/version"
	"github.com/vsoc/vsoc/sniproxy"
)

func main() {
	// The relay loops keep their Ps while they are busy and leave one P to the rest of the
	// process: one more P than the default gives a loop per CPU.
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	// Nearly all the proxy allocates is per-connection garbage (crypto/tls's parse of a
	// ClientHello alone is ~8 KiB) over a small live heap, so at the default GOGC of 100 the
	// collector runs several times a second under load with almost nothing to mark, and its
	// fixed cost per cycle shows in every new connection. Unless GOGC is set, collect a quarter
	// as often; GOMEMLIMIT (set in the rendered pod) still bounds the heap.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	os.Exit(exitCode(newRootCommand().Execute(), os.Stderr))
}

// reportedError is a failure of a run that has been reported already (a located config error, or
// the logged reason the proxy stopped): exit status 1.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// exitCode is the process's exit status for what the command returned: 0, 1 for a reported
// failure, 2 for a usage error (cobra's: an unknown flag, a missing --config, an argument), which
// is printed here with where to look for the usage.
func exitCode(err error, stderr io.Writer) int {
	var reported reportedError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &reported):
		return 1
	}
	fmt.Fprintf(stderr, "vsoc-sniproxy: %v\nRun 'vsoc-sniproxy --help' for usage.\n", err)
	return 2
}

func newRootCommand() *cobra.Command {
	var (
		configPath    string
		watchInterval time.Duration
		checkOnly     bool
		stallLimit    time.Duration
	)
	cmd := &cobra.Command{
		Use:           "vsoc-sniproxy --config FILE",
		Short:         "SNI/Host/CONNECT forward proxy into one customer's network",
		Args:          cobra.NoArgs,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A negative duration would act as 0, which turns the feature off, without a word.
			if watchInterval < 0 {
				return fmt.Errorf("--watch-interval %s: give 0 to turn watching off, or a positive duration", watchInterval)
			}
			if stallLimit < 0 {
				return fmt.Errorf("--audit-stall-limit %s: give 0 to turn the check off, or a positive duration", stallLimit)
			}
			if checkOnly {
				if _, err := sniproxy.LoadConfig(configPath); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					return reportedError{err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", configPath)
				return nil
			}
			logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			if err := run(cmd.Context(), logger, configPath, watchInterval, stallLimit); err != nil {
				logger.Error("exiting", "error", err.Error())
				return reportedError{err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "proxy config file (rendered by vsoc-compile build as OUT/proxy/<customer>.yaml)")
	cmd.Flags().DurationVar(&watchInterval, "watch-interval", 2*time.Second, "how often to check the config file for changes (0 disables; SIGHUP always reloads)")
	cmd.Flags().BoolVar(&checkOnly, "check", false, "validate the config file and exit")
	cmd.Flags().DurationVar(&stallLimit, "audit-stall-limit", 30*time.Second, "how long a write of audit lines may last before /healthz fails (the liveness probe then restarts the proxy; 0 disables)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// run serves until SIGTERM/SIGINT (or ctx ends), then drains.
func run(ctx context.Context, logger *slog.Logger, configPath string, watchInterval, auditStallLimit time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// Signals are caught from the start and acted on once serving: a SIGTERM during startup
	// still drains, and a SIGHUP (logrotate) would otherwise kill the process, its default.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	// A write to stdout or stderr whose reader has gone (a log shipper that crashed) would make
	// the Go runtime kill the process with SIGPIPE, and with it every connection it holds. Ignored,
	// the write fails with EPIPE instead: the audit writer counts and logs the lines lost, as for
	// any other destination that fails.
	signal.Ignore(syscall.SIGPIPE)
	data, err := os.ReadFile(configPath)
	if err != nil {
		return fmt.Errorf("loading %s: %w", configPath, err)
	}
	cfg, err := sniproxy.ParseConfig(configPath, data)
	if err != nil {
		return err
	}
	auditW, err := openAudit(cfg.Audit)
	if err != nil {
		return err
	}
	reopenable, _ := auditW.(*auditFile) // nil for stdout and stderr
	if reopenable != nil {
		defer reopenable.Close()
	}

	srv, err := sniproxy.New(cfg, sniproxy.Options{Log: logger, Audit: auditW, AuditStallLimit: auditStallLimit})
	if err != nil {
		return err
	}
	// The admin port is bound first: a failure then leaves no accepted connection behind.
	var adminLn net.Listener
	if cfg.Admin != "" {
		if adminLn, err = net.Listen("tcp", cfg.Admin); err != nil {
			return fmt.Errorf("listening on %s for the admin endpoint: %w", cfg.Admin, err)
		}
	}
	if err := srv.Start(); err != nil {
		if adminLn != nil {
			adminLn.Close()
		}
		return err
	}
	var admin *http.Server
	if adminLn != nil {
		ln := adminLn
		admin = &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("admin endpoint stopped", "error", err.Error())
			}
		}()
		logger.Info("admin endpoint listening", "address", ln.Addr().String())
	}

	var tick <-chan time.Time
	if watchInterval > 0 {
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		tick = t.C
	}

	current := cfg
	// The audit destination, its flush interval and the admin address are set up once, at the
	// start: a reload is compared with these, defaults applied, not with the previous file.
	inForce := cfg.WithDefaults()
	lastSeen := sha256.Sum256(data)
	// The watcher tries a refused file again at every tick: what refused it may have been the
	// machine rather than the file (a new listener's port still taken). It says so once per
	// reason; SIGHUP always says.
	var lastRefusal string
	reload := func(trigger string, data []byte) (applied bool) {
		next, err := sniproxy.ParseConfig(configPath, data)
		if err != nil {
			srv.ReloadRefused()
		} else {
			err = srv.Reload(next)
		}
		if err != nil {
			if msg := err.Error(); msg != lastRefusal || trigger == "SIGHUP" {
				logger.Error("config refused, the previous one keeps serving", "trigger", trigger, "error", msg)
				lastRefusal = msg
			}
			return false
		}
		lastRefusal = ""
		if n := next.WithDefaults(); n.Audit != inForce.Audit || n.AuditFlush != inForce.AuditFlush || n.Admin != inForce.Admin {
			logger.Warn("audit and admin changes take effect at the next restart", "trigger", trigger)
		}
		current = next
		logger.Info("config reloaded", "trigger", trigger, "generation", srv.Generation())
		return true
	}

	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				reopenAudit(logger, reopenable)
				data, err := os.ReadFile(configPath)
				if err != nil {
					srv.ReloadRefused()
					logger.Error("config refused, the previous one keeps serving", "trigger", "SIGHUP", "error", err.Error())
					continue
				}
				if reload("SIGHUP", data) {
					lastSeen = sha256.Sum256(data)
				}
				continue
			}
			return shutdown(logger, srv, admin, current, sig.String(), signals, reopenable)
		case <-tick:
			data, err := os.ReadFile(configPath)
			if err != nil {
				continue // a ConfigMap update swaps symlinks; the next tick sees the new file
			}
			sum := sha256.Sum256(data)
			switch {
			case bytes.Equal(sum[:], lastSeen[:]):
				lastRefusal = "" // back to the config that serves: a refusal is news again
			case reload("file change", data):
				lastSeen = sum
			}
		case <-ctx.Done():
			return shutdown(logger, srv, admin, current, "context done", signals, reopenable)
		}
	}
}

// shutdown drains open connections up to the config's deadline; a second SIGTERM or SIGINT
// (a second Ctrl-C) ends the drain at once, and a SIGHUP still reopens the audit file (the
// lines of the drain belong in the new one). Lost audit lines fail the run.
func shutdown(logger *slog.Logger, srv *sniproxy.Server, admin *http.Server, cfg *sniproxy.Config, why string, signals <-chan os.Signal, audit *auditFile) error {
	drain := cfg.WithDefaults().Timeouts.Drain.Std()
	logger.Info("draining", "why", why, "open_connections", srv.Active(), "deadline", drain.String())
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	go func() {
		for {
			select {
			case sig := <-signals:
				if sig == syscall.SIGHUP {
					reopenAudit(logger, audit)
					continue
				}
				logger.Warn("drain cut short", "signal", sig.String())
				cancel()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	err := srv.Shutdown(ctx)
	if admin != nil {
		actx, acancel := context.WithTimeout(context.Background(), time.Second)
		defer acancel()
		_ = admin.Shutdown(actx)
	}
	switch {
	case errors.Is(err, sniproxy.ErrAuditLinesLost):
		// Audit is how operators' actions stay traceable: losing lines fails the run.
		return err
	case err != nil:
		logger.Warn("drain incomplete", "error", err.Error())
		return nil
	}
	logger.Info("drained")
	return nil
}

// reopenAudit reopens the audit file at SIGHUP (nil: the audit goes to stdout or stderr, which
// are not reopened); a failure keeps the previous file.
func reopenAudit(logger *slog.Logger, f *auditFile) {
	if f == nil {
		return
	}
	if err := f.Reopen(); err != nil {
		logger.Error("audit file not reopened, lines keep going to the previous one", "error", err.Error())
		return
	}
	logger.Info("audit file reopened", "path", f.path)
}

// openAudit opens the audit destination: stdout, stderr or an *auditFile.
func openAudit(dest string) (io.Writer, error) {
	switch dest {
	case "", "stdout":
		return os.Stdout, nil
	case "stderr":
		return os.Stderr, nil
	}
	f, err := openAppending(dest)
	if err != nil {
		return nil, err
	}
	if err := endCutLine(dest, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit file %s: %w", dest, err)
	}
	return &auditFile{path: dest, current: f}, nil
}

// openAppending opens the audit file for appending. It is opened without blocking: a FIFO that
// no process reads would otherwise hold the open for ever, at startup (where signals are not yet
// acted on) or at a SIGHUP (on the goroutine that handles signals); it fails instead.
func openAppending(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o640)
	if errors.Is(err, syscall.ENXIO) {
		return nil, fmt.Errorf("opening audit file %s: it is a FIFO that no process reads (start its reader first)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening audit file %s: %w", path, err)
	}
	// Writes block again, as the audit writer expects (a full FIFO waits for its reader).
	if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening audit file %s: %w", path, err)
	}
	return f, nil
}

// endCutLine ends the file's last line if a failed write cut it and the process then exited, so
// that the first line of this run is not appended to the fragment. The audit is opened for
// writing only (the proxy may be allowed no more); the last byte is read through a handle of its
// own, and a file the proxy may not read is left as it is.
func endCutLine(path string, f *os.File) error {
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() == 0 {
		return err
	}
	r, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer r.Close()
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, info.Size()-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		_, err = f.Write([]byte{'\n'})
	}
	return err
}

// auditFile is an audit file given by path, which Reopen opens anew for rename rotation. The
// audit writer (one goroutine at a time) moves to the new file at its next write rather than at
// once: a write in progress may be stuck, and a reopen must not wait for it.
type auditFile struct {
	path     string
	reopened atomic.Pointer[os.File] // opened by Reopen, not yet written to
	current  *os.File                // the file written to; the audit writer's
	midLine  bool                    // the last write to current stopped inside a line (a full disk)
}

// Reopen opens the path anew: the next write goes to the new file.
func (w *auditFile) Reopen() error {
	f, err := openAppending(w.path)
	if err != nil {
		return err
	}
	if unused := w.reopened.Swap(f); unused != nil {
		unused.Close()
	}
	return nil
}

func (w *auditFile) Write(p []byte) (int, error) {
	done := 0
	if next := w.reopened.Swap(nil); next != nil {
		done = w.moveTo(next, p)
	}
	n, err := w.current.Write(p[done:])
	if n > 0 {
		w.midLine = p[done+n-1] != '\n'
	}
	return done + n, err
}

// moveTo makes next the file written to. A line that a failed write cut in the old file is
// completed there (its end comes first in p), rather than starting the new file with a fragment;
// moveTo returns how much of p that took.
func (w *auditFile) moveTo(next *os.File, p []byte) int {
	lineEnd := 0
	if w.midLine {
		lineEnd = bytes.IndexByte(p, '\n') + 1
		w.current.Write(p[:lineEnd]) // if the old file is still full, its last line stays cut
	}
	w.current.Close()
	w.current, w.midLine = next, false
	return lineEnd
}

// Close closes the file.
func (w *auditFile) Close() {
	if next := w.reopened.Swap(nil); next != nil {
		next.Close()
	}
	w.current.Close()
}
