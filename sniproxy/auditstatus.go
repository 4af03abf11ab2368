package sniproxy

import "time"

// AuditWriteDuration is how long the write of audit lines in progress has lasted; zero when none
// is. The event loops never wait for the audit destination, so a destination that stops
// accepting (a pipe nobody reads, a hung file system) shows here, and in lines dropped once the
// buffer is full, rather than in connections.
func (s *Server) AuditWriteDuration() time.Duration { return s.auditBuf.writeDuration(time.Now()) }
