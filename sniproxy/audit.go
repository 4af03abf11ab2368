package sniproxy

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// auditBatchSize is how much buffered audit makes the writer write it out at once, without
// waiting for the flush interval.
const auditBatchSize = 256 << 10

// auditBuffer collects audit lines in memory and writes them to their destination in batches:
// at most an interval after the first line of a batch, as soon as auditBatchSize has gathered,
// and at flush. A write per connection would cost a system call on the event loop for every
// connection, and one that enters the scheduler, which wakes the Go runtime's monitor thread
// whenever the process had gone idle.
type auditBuffer struct {
	dest     io.Writer
	interval time.Duration
	failed   func(error)
	writing  sync.Mutex // held while a batch goes to dest, so that batches keep their order
	spare    []byte     // the last batch's memory, under writing

	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
}

func newAuditBuffer(dest io.Writer, interval time.Duration, failed func(error)) *auditBuffer {
	a := &auditBuffer{dest: dest, interval: interval, failed: failed}
	a.timer = time.AfterFunc(interval, a.flush)
	a.timer.Stop()
	return a
}

// Write buffers one whole line. A full batch is written at once by the caller, which slows a
// proxy whose audit cannot keep up rather than drop lines.
func (a *auditBuffer) Write(p []byte) (int, error) {
	a.mu.Lock()
	first := len(a.buf) == 0
	a.buf = append(a.buf, p...)
	full := len(a.buf) >= auditBatchSize
	a.mu.Unlock()
	switch {
	case full:
		a.flush()
	case first:
		a.timer.Reset(a.interval)
	}
	return len(p), nil
}

// flush writes everything buffered so far.
func (a *auditBuffer) flush() {
	a.writing.Lock()
	defer a.writing.Unlock()
	a.mu.Lock()
	batch := a.buf
	a.buf = a.spare[:0]
	a.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if _, err := a.dest.Write(batch); err != nil {
		a.failed(fmt.Errorf("writing %d bytes of audit lines: %w", len(batch), err))
	}
	if cap(batch) <= 2*auditBatchSize {
		a.spare = batch[:0]
	}
}
