package sniproxy

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendAuditLine appends the audit line of a connection that ended at end: the JSON line
// log/slog's JSON handler writes for the record (time, level, msg, then the connection's fields),
// byte for byte. Written directly, it costs a fifth of going through slog, which takes the
// caller's PC, copies the attributes and marshals the float with encoding/json: at every
// connection, that was the largest share of the loops' own work after the ClientHello.
func appendAuditLine(b []byte, end time.Time, rec *connRecord) []byte {
	b = append(b, `{"time":`...)
	b = appendJSONTime(b, end)
	b = append(b, `,"level":"INFO","msg":"connection","start":`...)
	b = appendJSONTime(b, rec.start)
	b = append(b, `,"client":"`...)
	b = rec.client.AppendTo(b)
	b = append(b, '"')
	b = appendJSONField(b, "listener", rec.listener)
	b = appendJSONField(b, "name", rec.name)
	if rec.port != 0 {
		b = append(b, `,"port":`...)
		b = strconv.AppendUint(b, uint64(rec.port), 10)
	}
	if rec.target.IsValid() {
		b = append(b, `,"target":"`...)
		b = rec.target.AppendTo(b) // digits, dots, colons and brackets: nothing to escape
		b = append(b, '"')
	}
	b = appendJSONField(b, "decision", rec.decision)
	b = appendJSONField(b, "reason", rec.reason)
	b = append(b, `,"bytes_up":`...)
	b = strconv.AppendInt(b, rec.up, 10)
	b = append(b, `,"bytes_down":`...)
	b = strconv.AppendInt(b, rec.down, 10)
	b = append(b, `,"duration_s":`...)
	b = appendJSONFloat(b, end.Sub(rec.start).Seconds())
	b = append(b, `,"config_generation":`...)
	b = strconv.AppendUint(b, rec.configGen, 10)
	if rec.relayErr != nil {
		b = appendJSONField(b, "error", rec.relayErr.Error())
	}
	return append(b, "}\n"...)
}

// appendJSONField appends ,"key":"value" (key needs no escaping).
func appendJSONField(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

// appendJSONTime appends t as slog does: RFC 3339 with nanoseconds, without the monotonic clock.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json does (which slog uses for floats): the shortest
// decimal, in exponent form only for very small or large magnitudes, with a two-digit exponent
// at most.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s as a JSON string, escaped as slog escapes it: quotes, backslashes
// and control characters, invalid UTF-8 as U+FFFD, and U+2028 and U+2029.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
