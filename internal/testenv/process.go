package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// process is a program started by this package, with its output in a log file.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited
	waitErr error         // valid after done is closed
}

// startProcess runs bin with its stdout and stderr appended to logPath.
//
// The process is not tied to a context: a shared server outlives the test
// that started it and is stopped explicitly. As a safety net for a test
// binary that dies without cleaning up, the child gets SIGKILL when its
// parent goes away (Pdeathsig). Pdeathsig fires when the parent *thread*
// ends, so the child is started and waited for on a goroutine locked to its
// OS thread, which therefore lives exactly as long as the child.
func startProcess(name, dir, logPath, bin string, args ...string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s: opening its log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}

	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer logFile.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	return p, nil
}

// exitError returns nil while the process runs, and an error with the tail
// of its log once it has exited.
func (p *process) exitError() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited early (%v); last lines of %s:\n%s", p.name, p.waitErr, p.logPath, p.logTail(4096))
	default:
		return nil
	}
}

// stop asks the process to terminate and kills it if it does not within the
// grace period.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// logTail returns at most the last limit bytes of the log, from a line start.
func (p *process) logTail(limit int) string {
	content, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	if len(content) > limit {
		content = content[len(content)-limit:]
		if i := bytes.IndexByte(content, '\n'); i >= 0 {
			content = content[i+1:]
		}
	}
	return string(content)
}

// waitFor polls ready until it returns nil, the process exits, or timeout
// passes; the error then says which, with ready's last complaint.
func (p *process) waitFor(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if exitErr := p.exitError(); exitErr != nil {
			return exitErr
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s not ready after %s (%w); last lines of %s:\n%s", p.name, timeout, ctx.Err(), p.logPath, p.logTail(4096)), err)
		case <-p.done:
		case <-tick.C:
		}
	}
}
