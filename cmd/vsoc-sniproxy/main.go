// Command vsoc-sniproxy is the forward proxy bundled in each customer's cluster: TLS routed by SNI,
// HTTP by Host, HTTP CONNECT for SSH, only ever dialling the customer's declared destinations.
//
//	vsoc-sniproxy --config /etc/vsoc-sniproxy/config.yaml
//
// SIGHUP or a change of the config file reloads it (new connections use it, open ones are
// untouched; an invalid file is refused and logged). SIGTERM/SIGINT stop accepting, drain open
// connections up to timeouts.drain, then exit.
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
	"syscall"
	"time"

	"github.com/spf13/cobra"

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
	)
	cmd := &cobra.Command{
		Use:           "vsoc-sniproxy --config FILE",
		Short:         "SNI/Host/CONNECT forward proxy into one customer's network",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if checkOnly {
				if _, err := sniproxy.LoadConfig(configPath); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					return reportedError{err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", configPath)
				return nil
			}
			logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			if err := run(cmd.Context(), logger, configPath, watchInterval); err != nil {
				logger.Error("exiting", "error", err.Error())
				return reportedError{err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "proxy config file (rendered by vsoc-compile build as OUT/proxy/<customer>.yaml)")
	cmd.Flags().DurationVar(&watchInterval, "watch-interval", 2*time.Second, "how often to check the config file for changes (0 disables; SIGHUP always reloads)")
	cmd.Flags().BoolVar(&checkOnly, "check", false, "validate the config file and exit")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// run serves until SIGTERM/SIGINT (or ctx ends), then drains.
func run(ctx context.Context, logger *slog.Logger, configPath string, watchInterval time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	data, err := os.ReadFile(configPath)
	if err != nil {
		return fmt.Errorf("loading %s: %w", configPath, err)
	}
	cfg, err := sniproxy.ParseConfig(configPath, data)
	if err != nil {
		return err
	}
	auditW, closeAudit, err := openAudit(cfg.Audit)
	if err != nil {
		return err
	}
	defer closeAudit()

	srv, err := sniproxy.New(cfg, sniproxy.Options{Log: logger, Audit: auditW})
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

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	var tick <-chan time.Time
	if watchInterval > 0 {
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		tick = t.C
	}

	current := cfg
	lastSeen := sha256.Sum256(data)
	reload := func(trigger string, data []byte) {
		next, err := sniproxy.ParseConfig(configPath, data)
		if err == nil {
			err = srv.Reload(next)
		}
		if err != nil {
			logger.Error("config refused, the previous one keeps serving", "trigger", trigger, "error", err.Error())
			return
		}
		if next.Audit != current.Audit || next.AuditFlush != current.AuditFlush || next.Admin != current.Admin {
			logger.Warn("audit and admin changes take effect at the next restart", "trigger", trigger)
		}
		current = next
		logger.Info("config reloaded", "trigger", trigger, "generation", srv.Generation())
	}

	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				data, err := os.ReadFile(configPath)
				if err != nil {
					logger.Error("config refused, the previous one keeps serving", "trigger", "SIGHUP", "error", err.Error())
					continue
				}
				lastSeen = sha256.Sum256(data)
				reload("SIGHUP", data)
				continue
			}
			return shutdown(logger, srv, admin, current, sig.String())
		case <-tick:
			data, err := os.ReadFile(configPath)
			if err != nil {
				continue // a ConfigMap update swaps symlinks; the next tick sees the new file
			}
			if sum := sha256.Sum256(data); !bytes.Equal(sum[:], lastSeen[:]) {
				lastSeen = sum
				reload("file change", data)
			}
		case <-ctx.Done():
			return shutdown(logger, srv, admin, current, "context done")
		}
	}
}

func shutdown(logger *slog.Logger, srv *sniproxy.Server, admin *http.Server, cfg *sniproxy.Config, why string) error {
	drain := cfg.WithDefaults().Timeouts.Drain.Std()
	logger.Info("draining", "why", why, "open_connections", srv.Active(), "deadline", drain.String())
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(ctx)
	if admin != nil {
		actx, acancel := context.WithTimeout(context.Background(), time.Second)
		defer acancel()
		_ = admin.Shutdown(actx)
	}
	if err != nil {
		logger.Warn("drain incomplete", "error", err.Error())
		return nil
	}
	logger.Info("drained")
	return nil
}

// openAudit opens the audit destination: stdout, stderr or a file appended to.
func openAudit(dest string) (io.Writer, func(), error) {
	switch dest {
	case "", "stdout":
		return os.Stdout, func() {}, nil
	case "stderr":
		return os.Stderr, func() {}, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("opening audit file %s: %w", dest, err)
	}
	return f, func() { f.Close() }, nil
}
