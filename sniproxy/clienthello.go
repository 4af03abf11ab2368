package sniproxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
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
)

// recordingConn feeds crypto/tls from the client while keeping every byte read, so that they can be
// replayed to the upstream unchanged. It refuses writes: the proxy never answers the handshake.
type recordingConn struct {
	r          io.Reader
	recorded   []byte
	serverName string
	gotHello   bool
}

func (c *recordingConn) Read(p []byte) (int, error) {
	if len(c.recorded)+len(p) > maxRecorded {
		p = p[:maxRecorded-len(c.recorded)]
		if len(p) == 0 {
			return 0, errTooLarge
		}
	}
	n, err := c.r.Read(p)
	c.recorded = append(c.recorded, p[:n]...)
	return n, err
}

func (c *recordingConn) Write([]byte) (int, error)        { return 0, errReadOnly }
func (c *recordingConn) Close() error                     { return nil }
func (c *recordingConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *recordingConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *recordingConn) SetDeadline(time.Time) error      { return nil }
func (c *recordingConn) SetReadDeadline(time.Time) error  { return nil }
func (c *recordingConn) SetWriteDeadline(time.Time) error { return nil }

// newHelloCaptureConfig returns the tls.Config that stops every handshake right after the
// ClientHello was parsed by crypto/tls, recording the SNI on the recordingConn.
func newHelloCaptureConfig() *tls.Config {
	return &tls.Config{
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			if rc, ok := hi.Conn.(*recordingConn); ok {
				rc.gotHello = true
				rc.serverName = hi.ServerName
			}
			return nil, errHelloCaptured
		},
	}
}

// readClientHello reads from r until crypto/tls has parsed a complete ClientHello. It returns the
// server name (possibly empty) and every byte read, to be replayed to the upstream; buf is reused
// as the recording buffer.
func readClientHello(r io.Reader, capture *tls.Config, buf []byte) (serverName string, recorded []byte, err error) {
	rc := &recordingConn{r: r, recorded: buf[:0]}
	err = tls.Server(rc, capture).Handshake()
	if rc.gotHello {
		return rc.serverName, rc.recorded, nil
	}
	if err == nil {
		err = errors.New("handshake ended without a ClientHello")
	}
	return "", rc.recorded, fmt.Errorf("reading ClientHello: %w", err)
}
