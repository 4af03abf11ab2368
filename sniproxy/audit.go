package sniproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// auditBatchSize is how much buffered audit makes the writer write it out at once, without
	// waiting for the flush interval.
	auditBatchSize = 256 << 10
	// auditBufferLimit bounds the audit waiting in memory while a write is in progress: past it,
	// lines are dropped, so that a destination that stops accepting (a pipe nobody reads, a hung
	// file system) neither grows the heap nor holds the event loops, which never wait for it.
	auditBufferLimit = 16 * auditBatchSize
	// auditDropReportInterval is the least time between two log lines about dropped audit lines:
	// a stuck destination drops a line per connection.
	auditDropReportInterval = 10 * time.Second
	// auditFlushWait is how long flush waits for a destination that accepts nothing, so that a
	// stuck destination cannot hold a shutdown for ever.
	auditFlushWait = 10 * time.Second
)

// auditBuffer collects audit lines in memory and writes them to their destination in batches:
// at most an interval after the first line of a batch, as soon as auditBatchSize has gathered,
// and at flush. A write per connection would cost a system call for every connection, and one
// that enters the scheduler, which wakes the Go runtime's monitor thread whenever the process had
// gone idle. Batches are written by a goroutine of their own, never by the event loop that
// buffered the line: a slow or stuck destination delays the audit, not the connections.
type auditBuffer struct {
	dest      io.Writer
	interval  time.Duration
	flushWait time.Duration
	failed    func(error)
	timer     *time.Timer

	writing    sync.Mutex                // held while batches go to dest, so that they keep their order
	spare      []byte                    // the last batch's memory, under writing
	cutLineEnd []byte                    // the end of a line a failed write cut, written before anything else; under writing
	writeStart atomic.Pointer[time.Time] // when the write in progress started; nil when none is
	linesLost  atomic.Uint64             // lines dropped for want of room or left out by a failed write
	inFlight   atomic.Int64              // lines of the batch being written

	mu              sync.Mutex
	buf             []byte
	writerRunning   bool      // a goroutine is writing batches out
	due             bool      // the interval passed while the writer was busy: it writes what is left
	droppedUnlogged uint64    // lines dropped since the last report
	lastDropReport  time.Time // when dropped lines were last reported
}

func newAuditBuffer(dest io.Writer, interval time.Duration, failed func(error)) *auditBuffer {
	a := &auditBuffer{dest: dest, interval: interval, flushWait: auditFlushWait, failed: failed}
	a.timer = time.AfterFunc(interval, a.writeDue)
	a.timer.Stop()
	return a
}

// Write buffers one whole line, or drops it when auditBufferLimit is buffered already. It never
// writes to the destination: a full batch is handed to a writer goroutine.
func (a *auditBuffer) Write(p []byte) (int, error) {
	a.mu.Lock()
	if len(a.buf)+len(p) > auditBufferLimit {
		report := a.dropLocked(time.Now())
		a.mu.Unlock()
		if report != nil {
			go a.failed(report) // the log may go to the stuck destination itself
		}
		return len(p), nil
	}
	first := len(a.buf) == 0
	a.buf = append(a.buf, p...)
	startWriter := len(a.buf) >= auditBatchSize && !a.writerRunning
	a.writerRunning = a.writerRunning || startWriter
	a.mu.Unlock()
	switch {
	case startWriter:
		go a.writeOut()
	case first:
		a.timer.Reset(a.interval)
	}
	return len(p), nil
}

// dropLocked counts a line dropped for want of room and returns the report to log, at most one
// every auditDropReportInterval.
func (a *auditBuffer) dropLocked(now time.Time) error {
	a.linesLost.Add(1)
	a.droppedUnlogged++
	if now.Sub(a.lastDropReport) < auditDropReportInterval {
		return nil
	}
	dropped := a.droppedUnlogged
	a.droppedUnlogged, a.lastDropReport = 0, now
	return fmt.Errorf("%d audit lines dropped since the last report: %d bytes wait for a write that has lasted %s (vsoc_sniproxy_audit_lines_lost_total counts every line)",
		dropped, len(a.buf), a.writeDuration(now).Round(time.Millisecond))
}

// writeDue runs at the interval after the first line of a batch: it writes the batch out, or
// leaves it to the writer goroutine when one is busy.
func (a *auditBuffer) writeDue() {
	a.mu.Lock()
	busy := a.writerRunning
	a.writerRunning, a.due = true, busy
	a.mu.Unlock()
	if !busy {
		a.writeOut()
	}
}

// writeOut writes out everything buffered, and again while a full batch (or one whose interval
// has passed) has gathered during the write; then it leaves the rest to the timer.
func (a *auditBuffer) writeOut() {
	a.writing.Lock()
	defer a.writing.Unlock()
	for {
		a.writeBuffered()
		a.mu.Lock()
		more := len(a.buf) >= auditBatchSize || a.due && len(a.buf) > 0
		a.writerRunning = more
		a.mu.Unlock()
		if !more {
			return
		}
	}
}

// flush writes everything buffered so far, after the write in progress; a destination that
// accepts nothing for flushWait is given up on: the lines still waiting, and those of the write
// in progress, count as lost, and the error says how many.
func (a *auditBuffer) flush() error {
	written := make(chan struct{})
	go func() {
		a.writing.Lock()
		defer a.writing.Unlock()
		a.writeBuffered()
		close(written)
	}()
	select {
	case <-written:
		return nil
	case <-time.After(a.flushWait):
	}
	a.mu.Lock()
	waiting := int64(bytes.Count(a.buf, []byte{'\n'}))
	a.mu.Unlock()
	lost := waiting + a.inFlight.Load()
	a.linesLost.Add(uint64(lost))
	return fmt.Errorf("%w: the destination has accepted nothing for %s; lines not written: %d", ErrAuditLinesLost, a.flushWait, lost)
}

// ErrAuditLinesLost is what Shutdown returns (wrapped) when audit lines were lost while it ran:
// dropped for want of room, left out by a failed write, or not written by the end.
var ErrAuditLinesLost = errors.New("audit lines lost")

// writeBuffered takes everything buffered and writes it; the caller holds writing.
func (a *auditBuffer) writeBuffered() {
	a.mu.Lock()
	batch := a.buf
	a.buf, a.due = a.spare[:0], false
	a.mu.Unlock()
	if len(batch) > 0 {
		a.inFlight.Store(int64(bytes.Count(batch, []byte{'\n'})))
		a.writeBatch(batch)
		a.inFlight.Store(0)
	}
	if cap(batch) <= 2*auditBatchSize {
		a.spare = batch[:0]
	}
}

// writeBatch writes one batch of whole lines. A failed write may have cut a line (a disk that
// fills up takes part of it): the end of that line is kept and written first next time, so that
// the line is completed rather than followed by the next one; the lines after it are lost.
func (a *auditBuffer) writeBatch(batch []byte) {
	if len(a.cutLineEnd) > 0 {
		n, err := a.write(a.cutLineEnd)
		a.cutLineEnd = a.cutLineEnd[n:]
		if err != nil {
			a.lose(batch, fmt.Errorf("completing an audit line a failed write cut: %w", err))
			return
		}
	}
	n, err := a.write(batch)
	if err == nil {
		return
	}
	unwritten := batch[n:]
	if n > 0 && batch[n-1] != '\n' {
		end := bytes.IndexByte(unwritten, '\n') + 1
		a.cutLineEnd = append(a.cutLineEnd[:0], unwritten[:end]...)
		unwritten = unwritten[end:]
	}
	a.lose(unwritten, fmt.Errorf("writing %d bytes of audit lines: %w", len(batch), err))
}

// lose counts and reports the lines of unwritten.
func (a *auditBuffer) lose(unwritten []byte, err error) {
	lost := bytes.Count(unwritten, []byte{'\n'})
	a.linesLost.Add(uint64(lost))
	a.failed(fmt.Errorf("%w (%d lines lost)", err, lost))
}

// write writes p to the destination, recording when the write started.
func (a *auditBuffer) write(p []byte) (int, error) {
	start := time.Now()
	a.writeStart.Store(&start)
	defer a.writeStart.Store(nil)
	return a.dest.Write(p)
}

// writeDuration is how long the write in progress has lasted at now; zero when none is.
func (a *auditBuffer) writeDuration(now time.Time) time.Duration {
	if start := a.writeStart.Load(); start != nil {
		return now.Sub(*start)
	}
	return 0
}
