package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	// Registers -update, so that `go test ./... -update` runs here too.
	_ "github.com/vsoc/vsoc/internal/golden"
)

// buildBinary builds vsoc-sniproxy into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vsoc-sniproxy")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBackend answers every connection with its name and closes.
func startBackend(t *testing.T, ip, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					fmt.Fprintf(c, "%s:%s", name, buf[:n])
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// logWatcher collects the JSON log lines of the process.
// startLogged starts cmd, killed at the end of the test, and watches its log (stderr); the
// channel is closed once the log has been read to its end.
func startLogged(t *testing.T, cmd *exec.Cmd) (*logWatcher, <-chan struct{}) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := &logWatcher{}
	done := make(chan struct{})
	go func() { logs.consume(stderr); close(done) }()
	return logs, done
}

type logWatcher struct {
	mu    sync.Mutex
	lines []map[string]any
	raw   strings.Builder
}

func (w *logWatcher) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m map[string]any
		_ = json.Unmarshal(sc.Bytes(), &m)
		w.mu.Lock()
		w.lines = append(w.lines, m)
		w.raw.WriteString(sc.Text() + "\n")
		w.mu.Unlock()
	}
}

func (w *logWatcher) wait(t *testing.T, msg string, field, value string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		for _, l := range w.lines {
			if l["msg"] == msg && (field == "" || fmt.Sprint(l[field]) == value) {
				w.mu.Unlock()
				return l
			}
		}
		raw := w.raw.String()
		w.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q (%s=%s); log:\n%s", msg, field, value, raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *logWatcher) count(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, l := range w.lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

func configFor(target, audit string) string {
	return fmt.Sprintf(`listeners:
  - {name: raw, address: "127.0.0.1:0", protocol: tcp}
static:
  - {listener: raw, target: "%s"}
admin: "127.0.0.1:0"
audit: %s
timeouts: {drain: 2s}
`, target, audit)
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func roundTrip(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("round trip %q: %v", msg, err)
	}
	return string(buf[:n])
}

func TestBinaryReloadsAndDrains(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	oldBackend := startBackend(t, "127.0.0.2", "old")
	newBackend := startBackend(t, "127.0.0.3", "new")
	auditPath := filepath.Join(dir, "audit.jsonl")
	cfgPath := filepath.Join(dir, "proxy.yaml")
	writeFile(t, cfgPath, configFor(oldBackend, auditPath))

	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "100ms")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOGC=") })
	logs, logsDone := startLogged(t, cmd)

	addr := logs.wait(t, "listening", "listener", "raw")["address"].(string)
	admin := logs.wait(t, "admin endpoint listening", "", "")["address"].(string)

	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if got := roundTrip(t, held, "1"); got != "old:1" {
		t.Fatalf("first connection: %q", got)
	}

	// An invalid file is refused, logged with its location, and the old config keeps serving.
	writeFile(t, cfgPath, strings.Replace(configFor(newBackend, auditPath), "protocol: tcp", "protocol: udp", 1))
	refused := logs.wait(t, "config refused, the previous one keeps serving", "trigger", "file change")
	if !strings.Contains(fmt.Sprint(refused["error"]), "proxy.yaml:2:") {
		t.Fatalf("refusal does not locate the error: %v", refused)
	}
	if got := roundTrip(t, dialT(t, addr), "2"); got != "old:2" {
		t.Fatalf("after an invalid config: %q", got)
	}

	// A valid change of the file is picked up; the open connection is untouched.
	writeFile(t, cfgPath, configFor(newBackend, auditPath))
	logs.wait(t, "config reloaded", "trigger", "file change")
	if got := roundTrip(t, dialT(t, addr), "3"); got != "new:3" {
		t.Fatalf("after reload: %q", got)
	}
	if got := roundTrip(t, held, "4"); got != "old:4" {
		t.Fatalf("open connection after reload: %q", got)
	}

	// SIGHUP reloads even when the file did not change.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "config reloaded", "generation", "3")

	// Admin endpoint answers.
	if out, err := exec.Command("curl", "-sS", "--max-time", "5", "http://"+admin+"/readyz").CombinedOutput(); err != nil || !strings.Contains(string(out), "ready (config generation 3)") {
		t.Fatalf("/readyz: %v %s", err, out)
	}
	// The binary collects garbage at GOGC 400 when the environment does not say otherwise.
	if out, err := exec.Command("curl", "-sS", "--max-time", "5", "http://"+admin+"/metrics").CombinedOutput(); err != nil || !strings.Contains(string(out), "\ngo_gc_gogc_percent 400\n") {
		t.Fatalf("/metrics does not report GOGC 400: %v\n%s", err, out)
	}

	// SIGTERM drains: the held connection is closed at the 2s deadline and the process exits 0.
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	// Wait closes the stderr pipe, so the last log lines are read to EOF first.
	go func() { <-logsDone; done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("exited after %s without waiting for the open connection", d)
	}
	if logs.count("drain incomplete") != 1 {
		t.Fatalf("expected the drain deadline to close the held connection; log:\n%s", logs.raw.String())
	}
	audit, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(audit), `"decision":"allow"`); n != 3 {
		t.Fatalf("audit file has %d allowed connections, want 3:\n%s", n, audit)
	}
}

// TestBinaryRetriesAReloadItCouldNotBind: a file whose new listener's port is taken is refused;
// once the port is free, the watcher applies the same file without a SIGHUP.
func TestBinaryRetriesAReloadItCouldNotBind(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	backend := startBackend(t, "127.0.0.2", "b")
	cfgPath := filepath.Join(dir, "proxy.yaml")
	writeFile(t, cfgPath, configFor(backend, filepath.Join(dir, "audit.jsonl")))
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "50ms")
	logs, _ := startLogged(t, cmd)
	logs.wait(t, "listening", "listener", "raw")

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(configFor(backend, filepath.Join(dir, "audit.jsonl")), `"127.0.0.1:0"`, `"`+taken.Addr().String()+`"`, 1)
	writeFile(t, cfgPath, moved)
	logs.wait(t, "config refused, the previous one keeps serving", "trigger", "file change")
	time.Sleep(300 * time.Millisecond) // several ticks: the same refusal is logged once
	if n := logs.count("config refused, the previous one keeps serving"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once", n)
	}
	taken.Close()
	logs.wait(t, "config reloaded", "trigger", "file change")
	if got := roundTrip(t, dialT(t, taken.Addr().String()), "x"); got != "b:x" {
		t.Fatalf("the listener on the freed port answers %q", got)
	}
}

// TestSecondSIGTERMEndsTheDrain: the drain waits for open connections up to its deadline; a
// second SIGTERM closes them at once and the process exits.
func TestSecondSIGTERMEndsTheDrain(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "proxy.yaml")
	cfg := strings.Replace(configFor(startBackend(t, "127.0.0.2", "b"), filepath.Join(dir, "audit.jsonl")), "{drain: 2s}", "{drain: 60s}", 1)
	writeFile(t, cfgPath, cfg)
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "0")
	logs, logsDone := startLogged(t, cmd)
	held := dialT(t, logs.wait(t, "listening", "listener", "raw")["address"].(string))
	if got := roundTrip(t, held, "1"); got != "b:1" {
		t.Fatalf("first connection: %q", got)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "draining", "", "")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { <-logsDone; done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("still draining 10 s after a second SIGTERM (the drain deadline is 60 s)")
	}
	if logs.count("drain cut short") == 0 || strings.Contains(logs.raw.String(), "deadline reached") {
		t.Fatalf("the log does not say the drain was cut short, or blames the deadline; log:\n%s", logs.raw.String())
	}
	audit := string(readFile(t, filepath.Join(dir, "audit.jsonl")))
	if !strings.Contains(audit, `"error":"closed when the drain was cut short"`) {
		t.Fatalf("the held connection's audit line does not say the drain was cut short:\n%s", audit)
	}
}

func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCheckFlagReportsLocatedErrors(t *testing.T) {
	bin := buildBinary(t)
	cfgPath := filepath.Join(t.TempDir(), "proxy.yaml")
	writeFile(t, cfgPath, "listeners:\n  - {name: ssh, address: \":3128\", protocol: connect, upstreamPort: 443}\n")
	out, err := exec.Command(bin, "--check", "--config", cfgPath).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("--check on an invalid config: %v, want exit status 1\n%s", err, out)
	}
	if want := cfgPath + ":2:68: listeners[0].upstreamPort: not used by protocol connect"; !strings.Contains(string(out), want) {
		t.Fatalf("--check output %q, want %q", out, want)
	}
	writeFile(t, cfgPath, "listeners:\n  - {name: https, address: \":8443\", protocol: tls, upstreamPort: 443}\n")
	if out, err := exec.Command(bin, "--check", "--config", cfgPath).CombinedOutput(); err != nil || !strings.Contains(string(out), ": ok") {
		t.Fatalf("--check on a valid config: %v\n%s", err, out)
	}
}

// TestUsageErrorsSayWhatIsWrong: a mistake on the command line is reported, with where to find
// the usage, and exits with status 2 (1 is for a bad config file).
func TestUsageErrorsSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, `required flag(s) "config" not set`},
		{[]string{"--check"}, `required flag(s) "config" not set`},
		{[]string{"--config", "proxy.yaml", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"--config", "proxy.yaml", "extra"}, `unknown command "extra"`},
		{[]string{"--config", "proxy.yaml", "--watch-interval", "soon"}, `invalid argument "soon"`},
		{[]string{"--config", "proxy.yaml", "--watch-interval", "-1s"}, `--watch-interval -1s: give 0 to turn watching off, or a positive duration`},
		{[]string{"--config", "proxy.yaml", "--check", "--audit-stall-limit", "-5s"}, `--audit-stall-limit -5s: give 0 to turn the check off, or a positive duration`},
	} {
		cmd := newRootCommand()
		cmd.SetArgs(tc.args)
		var stderr bytes.Buffer
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if code := exitCode(cmd.Execute(), &stderr); code != 2 {
			t.Errorf("%q: exit status %d, want 2", tc.args, code)
		}
		if msg := stderr.String(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "vsoc-sniproxy --help") {
			t.Errorf("%q printed %q, want %q and a pointer to --help", tc.args, msg, tc.want)
		}
	}
}

// TestAcceptPausesWhenOutOfFileDescriptors runs the proxy with a small file limit: accept fails
// with EMFILE, the loops leave the listening socket alone for a while instead of spinning on it,
// and accept again once connections are closed.
func TestAcceptPausesWhenOutOfFileDescriptors(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	backend := startBackend(t, "127.0.0.2", "b")
	cfgPath := filepath.Join(dir, "proxy.yaml")
	// Clients of the tls listener that send nothing hold their descriptor until the handshake
	// timeout; the tcp listener relays to the backend.
	cfg := configFor(backend, filepath.Join(dir, "audit.jsonl"))
	cfg = strings.Replace(cfg, "static:", "  - {name: silent, address: \"127.0.0.1:0\", protocol: tls}\nstatic:", 1)
	cfg = strings.Replace(cfg, "{drain: 2s}", "{drain: 2s, handshake: 20s}", 1)
	writeFile(t, cfgPath, cfg)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (util-linux) not found: %v", err)
	}
	cmd := exec.Command(prlimit, "--nofile=64", bin, "--config", cfgPath, "--watch-interval", "0")
	logs, _ := startLogged(t, cmd)
	addr := logs.wait(t, "listening", "listener", "raw")["address"].(string)
	silent := logs.wait(t, "listening", "listener", "silent")["address"].(string)

	// 80 silent clients exhaust 64 descriptors, and some wait in the accept queue.
	var clients []net.Conn
	for range 80 {
		c, err := net.Dial("tcp", silent)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	failed := logs.wait(t, "accept failed", "", "")
	if !strings.Contains(fmt.Sprint(failed["error"]), "too many open files") {
		t.Fatalf("accept failed for another reason: %v", failed)
	}
	// Out of descriptors, with connections waiting: the proxy must not burn a CPU.
	before := cpuTicks(t, cmd.Process.Pid)
	time.Sleep(time.Second)
	if used := cpuTicks(t, cmd.Process.Pid) - before; used > 25 {
		t.Fatalf("the proxy used %d clock ticks of CPU in 1 s while out of file descriptors", used)
	}
	// The pause grows while the error lasts, and so the warnings thin out: by now each loop
	// waits more than half a second between attempts (a fixed 100 ms pause would log 20 times).
	failures := logs.count("accept failed")
	time.Sleep(time.Second)
	if n := logs.count("accept failed") - failures; n > 6 {
		t.Fatalf("%d accept failures logged in the second second out of file descriptors, want the pause to grow", n)
	}

	for _, c := range clients {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			if _, err = io.WriteString(c, "x"); err == nil {
				buf := make([]byte, 16)
				var n int
				n, err = c.Read(buf)
				if err == nil && string(buf[:n]) == "b:x" {
					c.Close()
					return
				}
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection relayed after the clients went away: %v\n%s", err, logs.raw.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cpuTicks is the user and system time of a process, in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces; the fields after it are space-separated.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	var utime, stime int
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return utime + stime
}

// waitForLines waits until the file at path holds n lines, and returns them.
func waitForLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		lines := strings.SplitAfter(string(data), "\n")
		lines = lines[:len(lines)-1] // after the last newline
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d lines, want %d:\n%s", path, len(lines), n, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGHUP reopens the audit file: after logrotate's rename rotation (mv, then SIGHUP), lines go
// to a new file at the configured path, not to the renamed one.
func TestBinaryReopensTheAuditFileAtSIGHUP(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	backend := startBackend(t, "127.0.0.2", "b")
	auditPath := filepath.Join(dir, "audit.jsonl")
	cfgPath := filepath.Join(dir, "proxy.yaml")
	writeFile(t, cfgPath, configFor(backend, auditPath)+"auditFlush: 10ms\n")
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "0")
	logs, _ := startLogged(t, cmd)
	addr := logs.wait(t, "listening", "listener", "raw")["address"].(string)

	connect := func(msg string) {
		c := dialT(t, addr)
		if got := roundTrip(t, c, msg); got != "b:"+msg {
			t.Fatalf("relayed %q", got)
		}
		c.Close()
	}
	connect("1")
	waitForLines(t, auditPath, 1)
	if err := os.Rename(auditPath, auditPath+".1"); err != nil {
		t.Fatal(err)
	}
	connect("2")
	waitForLines(t, auditPath+".1", 2) // before SIGHUP, the renamed file is still written
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "audit file reopened", "path", auditPath)
	connect("3")
	if lines := waitForLines(t, auditPath, 1); len(lines) != 1 || !strings.Contains(lines[0], `"bytes_up":1,`) {
		t.Fatalf("audit file after the reopen: %q, want the third connection", lines)
	}
	if lines := waitForLines(t, auditPath+".1", 2); len(lines) != 2 {
		t.Fatalf("rotated file: %q, want the first two connections only", lines)
	}
}

// With its audit going to a pipe nobody reads, the proxy keeps serving (the lines past its
// bounded buffer are dropped and counted), and /healthz fails once a write has lasted the stall
// limit, so that a liveness probe restarts it.
func TestBinaryServesWhileItsAuditIsStuck(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	backend := startBackend(t, "127.0.0.2", "b")
	cfgPath := filepath.Join(dir, "proxy.yaml")
	writeFile(t, cfgPath, configFor(backend, "stdout")+"auditFlush: 10ms\n")
	unread, stdout, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer unread.Close()
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "0", "--audit-stall-limit", "1s")
	cmd.Stdout = stdout
	logs, _ := startLogged(t, cmd)
	stdout.Close()
	addr := logs.wait(t, "listening", "listener", "raw")["address"].(string)
	admin := "http://" + logs.wait(t, "admin endpoint listening", "", "")["address"].(string)

	// A pipe holds 64 KiB, a batch 256 KiB and the buffer 4 MiB: about 15,000 lines of ~280
	// bytes fill them all.
	const clients, perClient = 8, 2500
	var wg sync.WaitGroup
	failures := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for range perClient {
				if err := closeAfterRelay(addr); err != nil {
					failures <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Fatalf("a connection failed while the audit was stuck: %v", err)
	}
	if lost := metricValue(t, admin, "vsoc_sniproxy_audit_lines_lost_total"); lost < 1 {
		t.Fatalf("%v audit lines counted lost, want the lines past the buffer", lost)
	}
	logs.wait(t, "audit lines lost", "", "")

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(admin + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "an audit write has lasted") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still %d %q with the audit stuck for 10 s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// closeAfterRelay opens a connection through the proxy, has a byte relayed and closes it.
func closeAfterRelay(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("x")); err != nil {
		return err
	}
	_, err = c.Read(make([]byte, 8))
	return err
}

// metricValue is the value of an unlabelled metric on the admin endpoint's /metrics.
func metricValue(t *testing.T, admin, name string) float64 {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if value, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			var v float64
			fmt.Sscan(value, &v)
			return v
		}
	}
	t.Fatalf("no metric %s on /metrics", name)
	return 0
}

// A line a full disk cut in the audit file is completed in that file when the next write goes
// to a reopened one: the new file does not start with the end of a line.
func TestAuditFileCompletesACutLineBeforeMovingToTheReopenedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := openAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	f := w.(*auditFile)
	defer f.Close()
	// As if the disk had filled up in the middle of the second line.
	if _, err := f.Write([]byte("{\"n\":1}\n{\"n\"")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	// The audit writer writes the end of the cut line first, then the next lines.
	if n, err := f.Write([]byte(":2}\n")); err != nil || n != 4 {
		t.Fatalf("write of the cut line's end: %d, %v", n, err)
	}
	if n, err := f.Write([]byte("{\"n\":3}\n")); err != nil || n != 8 {
		t.Fatalf("write after the reopen: %d, %v", n, err)
	}
	for file, want := range map[string]string{path + ".1": "{\"n\":1}\n{\"n\":2}\n", path: "{\"n\":3}\n"} {
		if got := readFile(t, file); string(got) != want {
			t.Errorf("%s holds %q, want %q", filepath.Base(file), got, want)
		}
	}
}

// A line cut by a run that then exited is ended before the next run's first line, rather than
// continued by it.
func TestOpenAuditEndsALineAPreviousRunCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte("{\"n\":1}\n{\"n\""), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // and a file that ends with a whole line is left alone
		w, err := openAudit(path)
		if err != nil {
			t.Fatal(err)
		}
		w.(*auditFile).Close()
	}
	w, err := openAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.(*auditFile).Close()
	if _, err := w.Write([]byte("{\"n\":3}\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := string(readFile(t, path)), "{\"n\":1}\n{\"n\"\n{\"n\":3}\n"; got != want {
		t.Fatalf("audit file %q, want %q", got, want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestAuditFIFOWithoutReader: an audit FIFO that no process reads fails the start at once, with a
// message saying so (the open used to block for ever, with SIGTERM ignored); at a SIGHUP it keeps
// the previous destination and the proxy still drains at SIGTERM.
func TestAuditFIFOWithoutReader(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "audit.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "proxy.yaml")
	writeFile(t, cfgPath, configFor(startBackend(t, "127.0.0.2", "b"), fifo))

	start := exec.Command(bin, "--config", cfgPath, "--watch-interval", "0")
	var stderr bytes.Buffer
	start.Stderr = &stderr
	done := make(chan error, 1)
	if err := start.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- start.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "a FIFO that no process reads") {
			t.Fatalf("start with a reader-less FIFO: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		start.Process.Kill()
		t.Fatal("still starting 10 s later: the open of the audit FIFO blocks")
	}

	// With a reader the proxy starts; the reader goes, and a SIGHUP cannot reopen the FIFO.
	reader, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "0")
	logs, logsDone := startLogged(t, cmd)
	logs.wait(t, "listening", "listener", "raw")
	reader.Close()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "audit file not reopened, lines keep going to the previous one", "", "")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "draining", "", "")
	select {
	case <-logsDone:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	cmd.Wait()
}

// TestARepeatedRefusalIsLoggedAgain: a refused file, the serving one again, then the refused
// one once more: the second refusal is news and is logged too.
func TestARepeatedRefusalIsLoggedAgain(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "proxy.yaml")
	good := configFor(startBackend(t, "127.0.0.2", "b"), filepath.Join(dir, "audit.jsonl"))
	bad := strings.Replace(good, "protocol: tcp", "protocol: udp", 1)
	writeFile(t, cfgPath, good)
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "50ms")
	logs, logsDone := startLogged(t, cmd)
	logs.wait(t, "listening", "listener", "raw")
	const refused = "config refused, the previous one keeps serving"
	for round := 1; round <= 2; round++ {
		writeFile(t, cfgPath, bad)
		deadline := time.Now().Add(5 * time.Second)
		for logs.count(refused) < round {
			if time.Now().After(deadline) {
				t.Fatalf("refusal %d not logged; log:\n%s", round, logs.raw.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		writeFile(t, cfgPath, good)
		time.Sleep(300 * time.Millisecond) // several checks of the serving file
	}
	cmd.Process.Signal(syscall.SIGTERM)
	<-logsDone
	cmd.Wait()
}

// TestBinaryOutlivesTheReaderOfItsAuditPipe: when the process reading the audit on stdout goes
// away (a log shipper that crashed), the writes fail with EPIPE and the lines are counted lost;
// the proxy keeps serving. Go's default for a broken pipe on stdout or stderr is to die of
// SIGPIPE, which used to end the proxy and every connection it held, without a word.
func TestBinaryOutlivesTheReaderOfItsAuditPipe(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	backend := startBackend(t, "127.0.0.2", "b")
	cfgPath := filepath.Join(dir, "proxy.yaml")
	writeFile(t, cfgPath, configFor(backend, "stdout")+"auditFlush: 10ms\n")
	reader, stdout, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "0")
	cmd.Stdout = stdout
	logs, _ := startLogged(t, cmd)
	stdout.Close()
	addr := logs.wait(t, "listening", "listener", "raw")["address"].(string)
	admin := "http://" + logs.wait(t, "admin endpoint listening", "", "")["address"].(string)
	held := dialT(t, addr)
	if got := roundTrip(t, held, "1"); got != "b:1" {
		t.Fatalf("relayed %q", got)
	}

	reader.Close()
	if err := closeAfterRelay(addr); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "audit lines lost", "", "")
	if got := roundTrip(t, held, "2"); got != "b:2" {
		t.Fatalf("the connection held across the failed audit write relayed %q", got)
	}
	if err := closeAfterRelay(addr); err != nil {
		t.Fatalf("a new connection after the audit reader went away: %v", err)
	}
	if lost := metricValue(t, admin, "vsoc_sniproxy_audit_lines_lost_total"); lost < 1 {
		t.Fatalf("%v audit lines counted lost, want the lines the broken pipe refused", lost)
	}
}

// TestARefusedFileCountsAsAFailedReload: a file that does not parse is a failed reload in
// vsoc_sniproxy_config_reloads_total, as a file whose listener cannot be bound is: the metric
// is what alerts on a config the proxy will not take. It used to count only the refusals of the
// library's Reload, which a file the binary could not read or parse never reached.
func TestARefusedFileCountsAsAFailedReload(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "proxy.yaml")
	good := configFor(startBackend(t, "127.0.0.2", "b"), filepath.Join(dir, "audit.jsonl"))
	writeFile(t, cfgPath, good)
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "0")
	logs, _ := startLogged(t, cmd)
	logs.wait(t, "listening", "listener", "raw")
	admin := "http://" + logs.wait(t, "admin endpoint listening", "", "")["address"].(string)
	const refused = "config refused, the previous one keeps serving"

	writeFile(t, cfgPath, strings.Replace(good, "protocol: tcp", "protocol: udp", 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, refused, "trigger", "SIGHUP")
	if n := metricValue(t, admin, `vsoc_sniproxy_config_reloads_total{result="failure"}`); n != 1 {
		t.Fatalf("%v failed reloads counted after an invalid file, want 1", n)
	}

	if err := os.Remove(cfgPath); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for logs.count(refused) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("a missing file was not refused; log:\n%s", logs.raw.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := metricValue(t, admin, `vsoc_sniproxy_config_reloads_total{result="failure"}`); n != 2 {
		t.Fatalf("%v failed reloads counted after a missing file, want 2", n)
	}
}

// TestRestartWarningOnlyForAChangeNotInForce: a reload warns that audit and admin changes take
// effect at the next restart only when they differ from what is in force. It used to compare
// the raw fields with the previous file's: writing a default out (auditFlush: 1s where the file
// said nothing) warned, and so did putting back the value in force after a warned change.
func TestRestartWarningOnlyForAChangeNotInForce(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "proxy.yaml")
	base := configFor(startBackend(t, "127.0.0.2", "b"), filepath.Join(dir, "audit.jsonl"))
	writeFile(t, cfgPath, base)
	cmd := exec.Command(bin, "--config", cfgPath, "--watch-interval", "0")
	logs, _ := startLogged(t, cmd)
	logs.wait(t, "listening", "listener", "raw")
	const warning = "audit and admin changes take effect at the next restart"
	reload := func(body string, generation int) {
		t.Helper()
		writeFile(t, cfgPath, body)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		logs.wait(t, "config reloaded", "generation", fmt.Sprint(generation))
	}

	reload(base+"auditFlush: 1s\n", 2) // the default, written out
	if n := logs.count(warning); n != 0 {
		t.Fatalf("warned %d times that the default auditFlush takes effect at the next restart", n)
	}
	reload(base+"auditFlush: 5s\n", 3)
	if n := logs.count(warning); n != 1 {
		t.Fatalf("warned %d times for a changed auditFlush, want once", n)
	}
	reload(base, 4) // back to what is in force
	if n := logs.count(warning); n != 1 {
		t.Fatalf("warned %d times in all after going back to the auditFlush in force, want once", n)
	}
}
