package sniproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxRequestHead bounds an HTTP request head (request line and headers).
const maxRequestHead = 16 << 10

// requestHead is what the proxy needs from an HTTP/1.x request head.
type requestHead struct {
	connect bool
	// name is the normalized host (an IP literal in canonical form, or a DNS name).
	name string
	// port is the requested port: CONNECT's (always set) or the Host's (0 when absent).
	port uint16
}

// errBadRequest marks request heads the proxy cannot route; the client gets a 400.
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// splitRequestHead returns the HTTP request head at the start of b (what the client has sent so
// far; readErr says why it sends no more, nil while it may), up to and including its blank line;
// errNeedMore while b ends before it. searched is how far earlier calls, with a shorter b, have
// looked for the blank line; the search resumes there, and the new value is returned.
func splitRequestHead(b []byte, readErr error, searched int) (head []byte, nowSearched int, err error) {
	window := b[:min(len(b), maxRequestHead)]
	// The blank line may have begun in the last two bytes searched.
	if end := headEnd(window, max(0, searched-2)); end >= 0 {
		return b[:end], len(window), nil
	}
	switch {
	case len(b) > maxRequestHead:
		return nil, len(window), badRequest("request head larger than %d bytes", maxRequestHead)
	case readErr == nil:
		return nil, len(window), errNeedMore
	case readErr == io.EOF:
		return nil, len(window), badRequest("connection closed before the end of the request head")
	}
	return nil, len(window), fmt.Errorf("reading request head: %w", readErr)
}

// headEnd returns the index just past the blank line ending a request head ("\n\n" or
// "\n\r\n", so CRLF and bare-LF heads both end), searching from index from; -1 if not there yet.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// parseRequestHead extracts the routing target from an HTTP/1.x request head: the authority of a
// CONNECT, otherwise the host of an absolute-form target or of the single Host header.
func parseRequestHead(head []byte) (requestHead, error) {
	var rh requestHead
	line, rest, ok := cutLine(head)
	if !ok {
		return rh, badRequest("no request line")
	}
	method, afterMethod, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(afterMethod, " ")
	if !ok1 || !ok2 || !isToken(method) || target == "" {
		return rh, badRequest("malformed request line %q", truncate(line))
	}
	if version != "HTTP/1.1" && version != "HTTP/1.0" {
		return rh, badRequest("unsupported protocol version %q (HTTP/1.0 or HTTP/1.1)", truncate(version))
	}
	var hostHeader string
	hosts := 0
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return rh, badRequest("unterminated header section")
		}
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return rh, badRequest("obsolete header line folding")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return rh, badRequest("malformed header line %q", truncate(line))
		}
		if strings.EqualFold(name, "Host") {
			hosts++
			hostHeader = strings.Trim(value, " \t")
		}
	}
	if hosts > 1 {
		return rh, badRequest("%d Host headers", hosts)
	}

	if method == "CONNECT" {
		rh.connect = true
		host, port, err := splitAuthority(target)
		if err != nil {
			return rh, err
		}
		if port == 0 {
			return rh, badRequest("CONNECT target %q needs a port", truncate(target))
		}
		rh.name, rh.port = host, port
		return rh, nil
	}

	authority := hostHeader
	if len(target) > 7 && strings.EqualFold(target[:7], "http://") {
		authority = target[7:]
		if i := strings.IndexAny(authority, "/?#"); i >= 0 {
			authority = authority[:i]
		}
	} else if target[0] != '/' && target != "*" {
		return rh, badRequest("request target %q is neither origin- nor absolute-form", truncate(target))
	} else if hosts == 0 {
		return rh, badRequest("no Host header")
	}
	host, port, err := splitAuthority(authority)
	if err != nil {
		return rh, err
	}
	rh.name, rh.port = host, port
	return rh, nil
}

// splitAuthority splits "host", "host:port", "[v6]" or "[v6]:port" and normalizes the host.
func splitAuthority(a string) (string, uint16, error) {
	if strings.ContainsAny(a, "@ \t") {
		return "", 0, badRequest("malformed authority %q", truncate(a))
	}
	host, portStr := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", 0, badRequest("unterminated IPv6 literal in %q", truncate(a))
		}
		host = a[1:end]
		switch rest := a[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			portStr = rest[1:]
		default:
			return "", 0, badRequest("malformed authority %q", truncate(a))
		}
		if _, ok := parseIPLiteral(host); !ok {
			return "", 0, badRequest("%q is not an IPv6 literal", truncate(host))
		}
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, portStr = a[:i], a[i+1:]
		if strings.IndexByte(host, ':') >= 0 {
			return "", 0, badRequest("IPv6 literal %q must be in brackets", truncate(a))
		}
	}
	var port uint16
	if portStr != "" {
		p, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil || p == 0 {
			return "", 0, badRequest("invalid port %q", truncate(portStr))
		}
		port = uint16(p)
	}
	name, err := NormalizeName(host)
	if err != nil {
		return "", 0, badRequest("invalid host: %v", err)
	}
	return name, port, nil
}

// cutLine returns the first line of b without its line ending (CRLF or LF).
func cutLine(b []byte) (string, []byte, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return "", nil, false
	}
	line := b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return string(line), b[i+1:], true
}

// isToken reports whether s is an RFC 9110 token (method and header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
