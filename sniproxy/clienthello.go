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
