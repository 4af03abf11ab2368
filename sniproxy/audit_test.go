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
	n := auditBatchSize/len(line(0)) + 1 // a full batch
	for i := range n {
		want.WriteString(line(i))
		a.Write([]byte(line(i)))
	}
	// The full batch is written at once (by a goroutine of the writer's)...
	deadline := time.Now().Add(5 * time.Second)
	for _, got := dest.written(); len(got) < auditBatchSize; _, got = dest.written() {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes written, want the full batch", len(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// ...and the lines after it wait for the interval.
	for i := n; i < n+10; i++ {
		want.WriteString(line(i))
		a.Write([]byte(line(i)))
	}
	time.Sleep(50 * time.Millisecond)
	if _, got := dest.written(); len(got) == want.Len() {
		t.Fatalf("the lines after a full batch were written at once; they should wait for the interval")
	}
	a.flush()
	batches, got := dest.written()
	if got != want.String() {
		t.Fatalf("written %d bytes, want %d, in order", len(got), want.Len())
	}
	if batches > 2 {
		t.Fatalf("%d writes for a batch and a few lines: not batched", batches)
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

// gatedWriter holds every write until its gate is opened, like a pipe nobody reads.
type gatedWriter struct {
	gate chan struct{}
	countingWriter
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	<-w.gate
	return w.countingWriter.Write(p)
}

// A destination that stops accepting writes never holds the caller of Write (an event loop):
// once the buffer is full, lines are dropped, counted and reported, at most once per
// auditDropReportInterval.
func TestAuditBufferNeverWaitsForAStuckDestination(t *testing.T) {
	dest := &gatedWriter{gate: make(chan struct{})}
	reports := make(chan error, 100)
	a := newAuditBuffer(dest, time.Hour, func(err error) { reports <- err })
	line := []byte(fmt.Sprintf("{\"pad\":%q}\n", strings.Repeat("x", 200)))
	// A full batch goes to the writer, which gets stuck in the destination.
	batch := (auditBatchSize + len(line) - 1) / len(line)
	for range batch {
		a.Write(line)
	}
	for deadline := time.Now().Add(5 * time.Second); a.writeDuration(time.Now()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no write in progress after a full batch")
		}
	}
	// Past that, auditBufferLimit waits in memory and the rest is dropped.
	rest := 2 * auditBufferLimit / len(line)
	kept := auditBufferLimit / len(line)
	wrote := make(chan struct{})
	go func() {
		for range rest {
			a.Write(line)
		}
		close(wrote)
	}()
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("Write waited for a destination that accepts nothing")
	}
	if lost := a.linesLost.Load(); lost != uint64(rest-kept) {
		t.Fatalf("%d of %d lines lost, want the %d past the buffer's bound", lost, rest, rest-kept)
	}
	select {
	case err := <-reports:
		if !strings.Contains(err.Error(), "audit lines dropped") {
			t.Fatalf("report %q", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dropped lines were not reported")
	}
	if len(reports) != 0 {
		t.Fatalf("%d more reports within the report interval, want one", len(reports))
	}

	close(dest.gate)
	a.flush()
	if _, got := dest.written(); strings.Count(got, "\n") != batch+kept {
		t.Fatalf("%d lines written, want the %d not dropped", strings.Count(got, "\n"), batch+kept)
	}
	if d := a.writeDuration(time.Now()); d != 0 {
		t.Fatalf("write duration %s with no write in progress", d)
	}
}

// The lines buffered while a slow write lasted are written at their interval, though the timer
// fired during the write.
func TestAuditBufferWritesWhatWaitedForASlowWrite(t *testing.T) {
	dest := &gatedWriter{gate: make(chan struct{})}
	a := newAuditBuffer(dest, 10*time.Millisecond, func(err error) { t.Errorf("unexpected failure: %v", err) })
	a.Write([]byte("{\"n\":1}\n"))
	for a.writeDuration(time.Now()) == 0 {
		time.Sleep(time.Millisecond)
	}
	a.Write([]byte("{\"n\":2}\n"))
	time.Sleep(50 * time.Millisecond) // the second line's interval passes during the first write
	close(dest.gate)
	deadline := time.Now().Add(5 * time.Second)
	for _, got := dest.written(); got != "{\"n\":1}\n{\"n\":2}\n"; _, got = dest.written() {
		if time.Now().After(deadline) {
			t.Fatalf("written %q, want both lines", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// At shutdown, flush gives up on a destination that accepts nothing, and counts as lost both the
// lines of the stuck write and those still waiting.
func TestAuditBufferFlushGivesUpOnAStuckDestination(t *testing.T) {
	dest := &gatedWriter{gate: make(chan struct{})}
	defer close(dest.gate)
	a := newAuditBuffer(dest, time.Hour, func(err error) { t.Errorf("unexpected failure: %v", err) })
	a.flushWait = 50 * time.Millisecond
	a.Write([]byte("{}\n{}\n"))
	go a.writeOut()
	for a.writeDuration(time.Now()) == 0 {
		time.Sleep(time.Millisecond)
	}
	a.Write([]byte("{}\n"))
	err := a.flush()
	if !errors.Is(err, ErrAuditLinesLost) || !strings.Contains(err.Error(), "accepted nothing for 50ms; lines not written: 3") || a.linesLost.Load() != 3 {
		t.Fatalf("flush: %v, %d lines counted lost; want it to give up on 3 lines", err, a.linesLost.Load())
	}
}

// fillingDisk accepts room bytes, then writes what fits of a write and fails with ENOSPC, as a
// file system that fills up does.
type fillingDisk struct {
	room int
	countingWriter
}

func (w *fillingDisk) Write(p []byte) (int, error) {
	if len(p) <= w.room {
		w.room -= len(p)
		return w.countingWriter.Write(p)
	}
	n := w.room
	w.room = 0
	w.countingWriter.Write(p[:n])
	return n, syscall.ENOSPC
}

// A write that a full disk cuts short leaves a partial line; the next write completes it before
// anything else, so that every line of the file stays valid JSON.
func TestAuditBufferCompletesALineAFullDiskCut(t *testing.T) {
	dest := &fillingDisk{room: len("{\"n\":1}\n{\"n")}
	var failures []error
	a := newAuditBuffer(dest, time.Hour, func(err error) { failures = append(failures, err) })
	for _, l := range []string{"{\"n\":1}\n", "{\"n\":2}\n", "{\"n\":3}\n"} {
		a.Write([]byte(l))
	}
	a.flush() // cuts line 2 and loses line 3
	if len(failures) != 1 || !errors.Is(failures[0], syscall.ENOSPC) || !strings.Contains(failures[0].Error(), "(1 lines lost)") {
		t.Fatalf("failures %v, want ENOSPC with one line lost", failures)
	}
	a.Write([]byte("{\"n\":4}\n"))
	a.flush() // the disk is still full: line 4 is lost, line 2 is still cut
	dest.room = 1 << 20
	a.Write([]byte("{\"n\":5}\n"))
	a.flush()
	_, got := dest.written()
	if want := "{\"n\":1}\n{\"n\":2}\n{\"n\":5}\n"; got != want {
		t.Fatalf("written %q, want %q", got, want)
	}
	if lost := a.linesLost.Load(); lost != 2 {
		t.Fatalf("%d lines counted lost, want 2", lost)
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
