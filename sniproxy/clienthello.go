package sniproxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// maxRecorded bounds the bytes read while waiting for a ClientHello or a request head; a
// ClientHello larger than this (post-quantum key shares included) does not exist in practice.
const maxRecorded = 64 << 10

var (
	errHelloCaptured = errors.New("sniproxy: ClientHello captured")
	errReadOnly      = errors.New("sniproxy: connection is read-only while parsing")
	errTooLarge      = errors.New("more than 64 KiB before the end of the handshake or request head")
	// errNeedMore says that what the client sent so far ends before what is parsed.
	errNeedMore = errors.New("more bytes needed")
)

// helloConn feeds crypto/tls the bytes a client has sent so far. At their end it says why there
// are no more: errNeedMore while the client may still send, errTooLarge past maxRecorded, readErr
// once the client sends nothing more. It refuses writes: the proxy never answers the handshake.
type helloConn struct {
	head       []byte
	end        error
	serverName string
	gotHello   bool
}

func (c *helloConn) Read(p []byte) (int, error) {
	if len(c.head) == 0 {
		return 0, c.end
	}
	n := copy(p, c.head)
	c.head = c.head[n:]
	return n, nil
}

func (c *helloConn) Write([]byte) (int, error)        { return 0, errReadOnly }
func (c *helloConn) Close() error                     { return nil }
func (c *helloConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *helloConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *helloConn) SetDeadline(time.Time) error      { return nil }
func (c *helloConn) SetReadDeadline(time.Time) error  { return nil }
func (c *helloConn) SetWriteDeadline(time.Time) error { return nil }

// newHelloCaptureConfig returns the tls.Config that stops every handshake right after the
// ClientHello was parsed by crypto/tls, recording the SNI on the helloConn.
func newHelloCaptureConfig() *tls.Config {
	return &tls.Config{
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			if hc, ok := hi.Conn.(*helloConn); ok {
				hc.gotHello = true
				hc.serverName = hi.ServerName
			}
			return nil, errHelloCaptured
		},
	}
}

// parseClientHello parses, with crypto/tls, the ClientHello at the start of head (what the client
// has sent so far; readErr says why it sends no more, nil while it may). It returns the server
// name (possibly empty), or an error wrapping errNeedMore while the ClientHello is incomplete.
func parseClientHello(head []byte, readErr error, capture *tls.Config) (string, error) {
	hc := &helloConn{head: head, end: readErr}
	switch {
	case len(head) > maxRecorded:
		hc.head, hc.end = head[:maxRecorded], errTooLarge
	case readErr == nil:
		hc.end = errNeedMore
	}
	err := tls.Server(hc, capture).Handshake()
	if hc.gotHello {
		return hc.serverName, nil
	}
	if err == nil {
		err = errors.New("handshake ended without a ClientHello")
	}
	return "", fmt.Errorf("reading ClientHello: %w", err)
}

// helloFraming follows the TLS record layer (RFC 8446 §5.1) over what a client has sent, to tell
// when its ClientHello can be whole. crypto/tls parses the hello, from the start, at every try: a
// client that sends its hello a few bytes at a time would otherwise have it parsed again at every
// read, and a few slow clients could keep an event loop busy. It reads only the record headers and
// the handshake message's length; whatever it does not expect makes it ready, so that crypto/tls
// reports the problem.
type helloFraming struct {
	next     int     // offset of the next record header
	gathered int     // handshake bytes in the whole records so far
	msgHead  [4]byte // the handshake message's type and 24-bit length, once gathered
	msgLen   int     // 4 + the handshake message's length, once known
	done     bool    // ready once, ready for good
}

const (
	recordTypeHandshake  = 22
	handshakeClientHello = 1
	maxPlaintext         = 16 << 10 // the largest record fragment (RFC 8446 §5.1)
	maxHandshakeMessage  = 64 << 10 // the largest handshake message crypto/tls reads
)

// ready reports whether crypto/tls might finish with head; when it reports false crypto/tls
// surely needs more bytes. head is what the client has sent so far: each call sees the bytes of
// the previous one and more, and the framing resumes where it stopped.
func (f *helloFraming) ready(head []byte) bool {
	if !f.done {
		f.done = f.advance(head)
	}
	return f.done
}

// advance follows the records of head from where the previous call stopped.
func (f *helloFraming) advance(head []byte) bool {
	for f.msgLen == 0 || f.gathered < f.msgLen {
		if len(head) < f.next+5 {
			return false
		}
		hdr := head[f.next : f.next+5]
		n := int(hdr[3])<<8 | int(hdr[4])
		if hdr[0] != recordTypeHandshake || hdr[1] != 3 || n == 0 || n > maxPlaintext {
			return true
		}
		end := f.next + 5 + n
		if len(head) < end {
			return false // crypto/tls reads a whole record before it looks inside
		}
		frag := head[f.next+5 : end]
		if f.gathered < len(f.msgHead) {
			copy(f.msgHead[f.gathered:], frag)
		}
		f.gathered += len(frag)
		f.next = end
		if f.msgLen == 0 && f.gathered >= len(f.msgHead) {
			if f.msgHead[0] != handshakeClientHello {
				return true
			}
			f.msgLen = 4 + (int(f.msgHead[1])<<16 | int(f.msgHead[2])<<8 | int(f.msgHead[3]))
			if f.msgLen-4 > maxHandshakeMessage {
				return true
			}
		}
	}
	return true
}
