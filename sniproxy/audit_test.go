package sniproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The audit is written in batches: a finished connection is counted at once, its line reaches
// the audit writer at the flush interval, and Shutdown writes what is left.
func TestAuditLinesAreBatchedAndFlushedAtShutdown(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AuditFlush = Duration(time.Hour) })
	if got, _ := httpStatus(t, e, "http", "GET / HTTP/1.1\r\nHost: vault.example.test\r\n\r\n"); got != "HTTP/1.1 403 Forbidden" {
		t.Fatalf("status %q, want 403", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, e.srv, "vsoc_sniproxy_connections_total") < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := counterValue(t, e.srv, "vsoc_sniproxy_connections_total"); got != 1 {
		t.Fatalf("%v connections counted, want 1", got)
	}
	if lines := e.audit.dump(); lines != "" {
		t.Fatalf("audit written before the flush interval:\n%s", lines)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	recs := e.audit.records(t)
	if len(recs) != 1 || recs[0]["reason"] != "denied" {
		t.Fatalf("audit after Shutdown: %v, want the one denied connection", recs)
	}
}

// countingWriter records the batches written to it.
type countingWriter struct {
	mu      sync.Mutex
	batches []string
	err     error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.batches = append(w.batches, string(p))
	return len(p), w.err
}

func (w *countingWriter) written() (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.batches), strings.Join(w.batches, "")
}

func TestAuditBufferWritesWholeBatchesInOrder(t *testing.T) {
	dest := &countingWriter{}
	a := newAuditBuffer(dest, time.Hour, func(err error) { t.Errorf("unexpected failure: %v", err) })
	line := func(i int) string { return fmt.Sprintf("{\"n\":%d,\"pad\":%q}\n", i, strings.Repeat("x", 200)) }
	var want strings.Builder
	n := 2 * auditBatchSize / len(line(0)) // more than one batch
	for i := range n {
		want.WriteString(line(i))
		a.Write([]byte(line(i)))
	}
	// The full batches were written by the writer itself; the rest waits.
	batches, got := dest.written()
	if batches < 1 || len(got) < auditBatchSize {
		t.Fatalf("%d batches, %d bytes written; want the full batches", batches, len(got))
	}
	if len(got) == want.Len() {
		t.Fatalf("everything was written at once; the tail should wait for the interval")
	}
	a.flush()
	batches, got = dest.written()
	if got != want.String() {
		t.Fatalf("written %d bytes, want %d, in order", len(got), want.Len())
	}
	if batches > n/100 {
		t.Fatalf("%d writes for %d lines: not batched", batches, n)
	}
}

func TestAuditBufferWritesAtTheInterval(t *testing.T) {
	dest := &countingWriter{}
	a := newAuditBuffer(dest, 10*time.Millisecond, func(err error) { t.Errorf("unexpected failure: %v", err) })
	a.Write([]byte("{\"n\":1}\n"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, got := dest.written(); got == "{\"n\":1}\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a lone audit line was not written within 5 s of a 10 ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAuditBufferReportsWriteFailures(t *testing.T) {
	dest := &countingWriter{err: errors.New("disk full")}
	var failures []error
	a := newAuditBuffer(dest, time.Hour, func(err error) { failures = append(failures, err) })
	a.Write([]byte("{}\n"))
	a.flush()
	if len(failures) != 1 || !strings.Contains(failures[0].Error(), "disk full") {
		t.Fatalf("failures %v, want the write error", failures)
	}
	if _, got := dest.written(); !bytes.Equal([]byte(got), []byte("{}\n")) {
		t.Fatalf("written %q", got)
	}
}

// A relay that fails is audited with the side and the direction that failed: here a client
// that resets its connection in the middle of a relay.
func TestAuditSaysWhichSideFailed(t *testing.T) {
	e := newEnv(t, nil)
	c, err := net.Dial("tcp", "127.0.0.1:"+e.port("legacy-tcp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	waitActive(t, e.srv, 1)
	c.(*net.TCPConn).SetLinger(0) // close with a reset
	c.Close()
	r := e.audit.waitFor(t, map[string]any{"listener": "legacy-tcp", "decision": "allow"})
	if got, want := r["error"], "reading from client: connection reset by peer"; got != want {
		t.Fatalf("audited error %q, want %q", got, want)
	}
}

func TestSideErrorWrapsTheSystemError(t *testing.T) {
	err := error(&sideError{side: sideUpstream, err: syscall.EPIPE})
	if got, want := err.Error(), "writing to upstream: broken pipe"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatal("errors.Is does not find the system error")
	}
}
