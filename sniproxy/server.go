package sniproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vsoc/vsoc/internal/wording"
)

// Options are the process-level parts of a Server that the config file does not carry.
type Options struct {
	// Log receives operational messages (reloads, accept errors); nil discards them.
	Log *slog.Logger
	// Audit receives one JSON line per connection, in batches (Config.AuditFlush); nil discards
	// them.
	Audit io.Writer
	// Registry receives the metrics; nil creates a private one (see Registry()).
	Registry *prometheus.Registry
	// AuditStallLimit is how long a write of audit lines may last before /healthz fails; zero
	// never fails it. The event loops never wait for the audit destination, so the proxy serves
	// on without its audit, but only a restart brings back a destination stuck that long (a pipe
	// nobody reads, a hung file system).
	AuditStallLimit time.Duration
}

// Server is a running proxy: its listeners, the configuration serving new connections, and the
// connections in flight.
type Server struct {
	log      *slog.Logger
	auditBuf *auditBuffer
	// auditStallLimit: Options.AuditStallLimit.
	auditStallLimit time.Duration
	registry        *prometheus.Registry
	metrics         *metrics
	capture         *tls.Config
	bufs            sync.Pool   // recording buffers for ClientHellos and request heads
	relays          *relayLoops // started by Start, stopped by Shutdown

	current atomic.Pointer[snapshot]
	ctx     context.Context // cancelled when the server is closed for good
	cancel  context.CancelFunc

	active   atomic.Int64
	draining atomic.Bool
	started  atomic.Bool
	inflight sync.WaitGroup

	mu        sync.Mutex // guards listeners, relays and reloads
	listeners map[string]*boundListener
}

// snapshot is one compiled configuration; connections keep the one they started with.
type snapshot struct {
	cfg        Config // with defaults
	generation uint64
	listeners  map[string]Listener
	static     map[staticKey]netip.AddrPort
	policy     *namePolicy
	guard      *destinationGuard
	resolver   *resolver
}

type staticKey struct{ listener, host string }

type boundListener struct {
	name    string
	address string      // as configured, e.g. ":8443"
	addr    net.Addr    // as bound
	accs    []*acceptor // a socket for each relay loop, in the loops' order
}

// close closes the listener's sockets.
func (bl *boundListener) close() {
	for _, a := range bl.accs {
		rawClose(a.fd)
	}
}

// New validates cfg and prepares a Server; Start binds the listeners.
func New(cfg *Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid proxy config: %w", err)
	}
	logger := opts.Log
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	auditW := opts.Audit
	if auditW == nil {
		auditW = io.Discard
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	auditBuf := newAuditBuffer(auditW, cfg.WithDefaults().AuditFlush.Std(), func(err error) {
		logger.Error("audit lines lost", "error", err)
	})
	if err := reg.Register(newAuditLinesLostCounter(auditBuf)); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		log:             logger,
		auditBuf:        auditBuf,
		auditStallLimit: opts.AuditStallLimit,
		registry:        reg,
		metrics:         m,
		capture:         newHelloCaptureConfig(),
		ctx:             ctx,
		cancel:          cancel,
		listeners:       make(map[string]*boundListener),
	}
	s.current.Store(s.compile(cfg, 1))
	m.generation.Set(1)
	return s, nil
}

// compile turns a validated config into the snapshot serving new connections.
func (s *Server) compile(in *Config, generation uint64) *snapshot {
	cfg := in.WithDefaults()
	snap := &snapshot{
		cfg:        cfg,
		generation: generation,
		listeners:  make(map[string]Listener, len(cfg.Listeners)),
		static:     make(map[staticKey]netip.AddrPort, len(cfg.Static)),
		policy:     newNamePolicy(cfg.Allow, cfg.Deny),
		guard:      newDestinationGuard(cfg.AllowedDestinations, cfg.Static),
	}
	for _, l := range cfg.Listeners {
		snap.listeners[l.Name] = l
	}
	for _, st := range cfg.Static {
		snap.static[staticKey{st.Listener, st.Host}] = st.Target
	}
	var v4, v6 bool
	for _, p := range cfg.AllowedDestinations {
		v4 = v4 || p.Addr().Is4()
		v6 = v6 || p.Addr().Is6()
	}
	snap.resolver = newResolver(resolverOptions{
		servers:    cfg.Resolvers,
		wantV4:     v4 || !v6,
		wantV6:     v6,
		timeout:    cfg.Timeouts.Resolve.Std(),
		maxTTL:     cfg.DNSCache.MaxTTL.Std(),
		maxEntries: cfg.DNSCache.MaxEntries,
		onLookup:   s.metrics.lookedUp,
	})
	return snap
}

// Registry is the Prometheus registry holding the proxy's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Start binds every listener and starts accepting.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relays == nil {
		relays, err := startRelayLoops()
		if err != nil {
			return fmt.Errorf("starting the relay loops: %w", err)
		}
		s.relays = relays
	}
	if err := s.reconcileListeners(s.current.Load()); err != nil {
		return err
	}
	s.started.Store(true)
	return nil
}

// Addr returns the bound address of a listener, nil if there is none by that name.
func (s *Server) Addr(name string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bl, ok := s.listeners[name]; ok {
		return bl.addr
	}
	return nil
}

// Generation is the generation of the configuration serving new connections.
func (s *Server) Generation() uint64 { return s.current.Load().generation }

// Reload makes cfg serve new connections; connections already open keep their configuration. An
// invalid config (or one whose new listeners cannot be bound) is refused and the current one keeps
// serving.
func (s *Server) Reload(cfg *Config) error {
	if err := cfg.Validate(); err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		return fmt.Errorf("refusing new config: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return errors.New("refusing new config: the proxy is shutting down")
	}
	old := s.current.Load()
	next := s.compile(cfg, old.generation+1)
	if s.started.Load() {
		if err := s.reconcileListeners(next); err != nil {
			s.metrics.reloads.WithLabelValues("failure").Inc()
			return fmt.Errorf("refusing new config: %w", err)
		}
	} else {
		s.current.Store(next)
	}
	s.metrics.reloads.WithLabelValues("success").Inc()
	s.metrics.generation.Set(float64(next.generation))
	return nil
}

// ReloadRefused counts a reload refused before a config reached Reload (its file could not be
// read or parsed) as failed, so that vsoc_sniproxy_config_reloads_total{result="failure"} counts
// every config the proxy would not take, not only those Reload refused.
func (s *Server) ReloadRefused() { s.metrics.reloads.WithLabelValues("failure").Inc() }

// reconcileListeners binds the listeners of next that are not bound yet, publishes next, then
// closes the listeners next no longer has. Binding first means a failed bind leaves everything as
// it was. Callers hold s.mu.
func (s *Server) reconcileListeners(next *snapshot) error {
	var fresh []*boundListener
	for _, l := range next.cfg.Listeners {
		if bl, ok := s.listeners[l.Name]; ok && bl.address == l.Address {
			continue
		}
		if bl, ok := s.listeners[l.Name]; ok && sameBind(bl.address, l.Address) {
			continue
		}
		bl, err := s.bind(l.Name, l.Address)
		if err != nil {
			for _, f := range fresh {
				f.close()
			}
			return fmt.Errorf("listening on %s for listener %q: %w", l.Address, l.Name, err)
		}
		fresh = append(fresh, bl)
	}
	s.current.Store(next)
	for name, bl := range s.listeners {
		if l, ok := next.listeners[name]; !ok || (l.Address != bl.address && !sameBind(bl.address, l.Address)) {
			s.unbind(bl)
			delete(s.listeners, name)
		}
	}
	for _, bl := range fresh {
		s.listeners[bl.name] = bl
		s.relays.listen(bl.accs)
		s.log.Info("listening", "listener", bl.name, "address", bl.addr.String())
	}
	return nil
}

// bind listens on address with a socket for each relay loop, and takes the sockets over from the
// net package: the loops accept on them, so accepted connections never enter the runtime's poller.
func (s *Server) bind(name, address string) (*boundListener, error) {
	meters := s.metrics.forListener(name)
	admit := func(fd int, peer netip.AddrPort) *relayConn { return s.admit(meters, fd, peer) }
	failed := func(err error, retryIn time.Duration) {
		s.log.Warn("accept failed", "listener", name, "error", err, "retry_in", retryIn)
	}
	if err := s.refuseForeignListener(address); err != nil {
		return nil, err
	}
	bl := &boundListener{name: name, address: address}
	for range s.relays.count() {
		// Once the first socket has its port (the configured one, or one the kernel chose for
		// port 0), the others join it there.
		at := address
		if bl.addr != nil {
			at = bl.addr.String()
		}
		fd, addr, err := listenReusePort(at)
		if err != nil {
			bl.close()
			return nil, err
		}
		if bl.addr == nil {
			bl.addr = addr
		}
		bl.accs = append(bl.accs, &acceptor{fd: fd, admit: admit, failed: failed})
	}
	return bl, nil
}

// refuseForeignListener fails when another process listens where address would (see
// refuseSharedPort). A listener of this server there is about to be closed by the reload that
// binds address again (renamed, or its address written differently), so it does not count.
// Callers hold s.mu.
func (s *Server) refuseForeignListener(address string) error {
	b, err := parseBindAddr(address)
	if err != nil {
		return err
	}
	if b.port == 0 {
		return nil // the kernel picks a port no one listens on
	}
	for _, bl := range s.listeners {
		if held, err := parseBindAddr(bl.addr.String()); err == nil && held.overlaps(b) {
			return nil
		}
	}
	return refuseSharedPort(b)
}

// unbind stops accepting on a listener and closes it. Callers hold s.mu.
func (s *Server) unbind(bl *boundListener) {
	s.relays.unlisten(bl.accs)
	bl.close()
	s.log.Info("listener closed", "listener", bl.name, "address", bl.address)
}

// sameBind reports whether two configured addresses are the same bind, so that a listener whose
// address is written differently is not rebound.
func sameBind(a, b string) bool {
	ab, err1 := parseBindAddr(a)
	bb, err2 := parseBindAddr(b)
	return err1 == nil && err2 == nil && ab.port != 0 && ab == bb
}

// errDrainDeadline ends the connections still open when a shutdown's drain deadline passes, and
// errDrainCutShort those still open when the drain is cancelled before it (a second SIGTERM); their
// audit lines say which.
var (
	errDrainDeadline = errors.New("closed at the drain deadline")
	errDrainCutShort = errors.New("closed when the drain was cut short")
)

// decision of a connection, as audited.
const (
	decisionAllow  = "allow"
	decisionRefuse = "refuse"
	decisionError  = "error"
)

// connRecord is what the audit line and metrics say about one connection.
type connRecord struct {
	start    time.Time
	listener string
	meters   *listenerMeters
	client   netip.AddrPort
	name     string
	// port is the one the client asked for (CONNECT's, or the Host header's, if any); the Host
	// listener dials its upstream port whatever the Host says, and target is what was dialled.
	port      uint16
	target    netip.AddrPort
	decision  string
	reason    string
	up, down  int64
	spliced   int64
	relayErr  error
	configGen uint64
}

// admit takes an accepted socket in, with the session that decides where it goes, or refuses it
// (closed and audited; nil).
func (s *Server) admit(meters *listenerMeters, fd int, peer netip.AddrPort) *relayConn {
	s.inflight.Add(1)
	snap := s.current.Load()
	a := &admitted{rec: connRecord{start: time.Now(), listener: meters.name, meters: meters, client: peer, configGen: snap.generation}}
	rec := &a.rec
	l, ok := snap.listeners[meters.name]
	switch {
	case !ok:
		// The listener was removed by a reload while this connection was being accepted.
		rec.decision, rec.reason = decisionRefuse, "listener_removed"
	case s.active.Add(1) > int64(snap.cfg.MaxConnections):
		s.active.Add(-1)
		rec.decision, rec.reason = decisionRefuse, "max_connections"
	default:
		meters.active.Inc()
		ss := &a.session
		*ss = session{s: s, snap: snap, l: l, rec: rec}
		c := &a.relay
		*c = relayConn{fd: [2]int{fd, -1}, hs: ss, hsTimeout: int64(snap.cfg.Timeouts.Handshake.Std()),
			idle: int64(snap.cfg.Timeouts.Idle.Std()), splice: snap.cfg.Splice, done: ss}
		if l.Protocol == ProtocolTCP {
			// Nothing to read first: the listener's static mapping decides.
			c.hs, c.dial = nil, ss.decideTCP()
		}
		return c
	}
	rawClose(fd)
	s.report(rec)
	s.inflight.Done()
	return nil
}

// admitted is what the proxy keeps for one admitted connection, allocated at once: the three
// parts live exactly as long as the connection.
type admitted struct {
	relay   relayConn
	session session
	rec     connRecord
}

// session is the proxy's side of one connection: its event loop asks it where the connection
// goes, given the bytes the client has sent so far, and tells it how the connection ended.
type session struct {
	s    *Server
	snap *snapshot
	l    Listener
	rec  *connRecord
	// What decide has learnt from the head so far, so that each read costs only its own bytes:
	// the TLS records seen, or how far the blank line ending a request head was looked for.
	hello    helloFraming
	searched int
}

// finished audits the connection and gives its slot back.
func (ss *session) finished(res relayResult) {
	rec := ss.rec
	if res.dialed {
		rec.target = res.target
		if res.dialErr != nil {
			rec.decision, rec.reason, rec.relayErr = decisionError, "dial_failed", res.dialErr
		} else {
			rec.decision = decisionAllow
		}
	}
	rec.up += res.up
	rec.down += res.down
	rec.spliced = res.spliced
	if res.err != nil && !errors.Is(res.err, net.ErrClosed) {
		rec.relayErr = res.err
	}
	if rec.decision == "" {
		rec.decision, rec.reason = decisionError, "closed"
	}
	ss.s.release(rec)
}

// decide reads what the client wants from head (everything it sent so far; readErr tells why it
// sends no more, nil while it may) and decides: more bytes needed (false), a refusal, a dial, or a
// DNS lookup to do first.
func (ss *session) decide(head []byte, readErr error) (nextStep, bool) {
	if !ss.adopt() {
		return ss.refuse("listener_removed", 0, nil), true
	}
	rec, l := ss.rec, ss.l
	var (
		replay []byte // bytes to send upstream before relaying
		port   uint16
	)
	switch l.Protocol {
	case ProtocolTLS:
		if readErr == nil && len(head) <= maxRecorded && !ss.hello.ready(head) {
			return nextStep{}, false
		}
		name, err := parseClientHello(head, readErr, ss.s.capture)
		if errors.Is(err, errNeedMore) {
			return nextStep{}, false
		}
		if err != nil {
			return ss.refuse(readFailureReason(err), 0, err), true
		}
		if name == "" {
			return ss.refuse("no_server_name", 0, nil), true
		}
		norm, err := NormalizeName(name)
		if err != nil {
			return ss.refuse("bad_server_name", 0, err), true
		}
		rec.name, port, replay = norm, l.UpstreamPort, head
	case ProtocolHTTP, ProtocolConnect:
		reqHead, searched, err := splitRequestHead(head, readErr, ss.searched)
		ss.searched = searched
		if errors.Is(err, errNeedMore) {
			return nextStep{}, false
		}
		if err != nil {
			return ss.refuse(readFailureReason(err), statusFor(err), err), true
		}
		rh, err := parseRequestHead(reqHead)
		if err != nil {
			return ss.refuse("bad_request", 400, err), true
		}
		if rh.connect != (l.Protocol == ProtocolConnect) {
			if l.Protocol == ProtocolConnect {
				return ss.refuse("not_connect", 405, nil), true
			}
			return ss.refuse("connect_not_served", 405, nil), true
		}
		rec.name, rec.port = rh.name, rh.port
		if rh.connect {
			port, replay = rh.port, head[len(reqHead):]
		} else {
			port, replay = l.UpstreamPort, head
		}
	}
	// The loop reuses head's memory.
	replay = append([]byte(nil), replay...)
	targets, reason, status, resolve := ss.s.route(ss.snap, l, rec, port)
	if !resolve {
		return ss.dialOrRefuse(targets, reason, status, replay), true
	}
	if addrs, ok := ss.snap.resolver.cached(rec.name); ok {
		targets, reason, status := ss.s.resolved(ss.snap, rec, port, addrs, nil)
		return ss.dialOrRefuse(targets, reason, status, replay), true
	}
	name, resolver := rec.name, ss.snap.resolver
	return nextStep{later: func() func() nextStep {
		// The resolver bounds its own queries (timeouts.resolve).
		addrs, err := resolver.lookup(ss.s.ctx, name)
		return func() nextStep { return ss.decideResolved(port, addrs, err, replay) }
	}}, true
}

// decideResolved decides, back on the loop, with the answer of a DNS lookup: by the config in
// force now, which a reload during the lookup may have changed (the name may be denied now, or
// the addresses no longer allowed).
func (ss *session) decideResolved(port uint16, addrs []netip.Addr, lookupErr error, replay []byte) nextStep {
	if !ss.adopt() {
		return ss.refuse("listener_removed", 0, nil)
	}
	if ss.l.Protocol != ProtocolConnect {
		port = ss.l.UpstreamPort
	}
	targets, reason, status, resolve := ss.s.route(ss.snap, ss.l, ss.rec, port)
	if resolve {
		targets, reason, status = ss.s.resolved(ss.snap, ss.rec, port, addrs, lookupErr)
	}
	return ss.dialOrRefuse(targets, reason, status, replay)
}

// adopt makes the config in force now the one that decides, when a reload happened since the
// connection was accepted: a client that opened its connection before a reload cannot use what
// the reload took away. False when the connection's listener is gone, or speaks another
// protocol now.
func (ss *session) adopt() bool {
	snap := ss.s.current.Load()
	if snap == ss.snap {
		return true
	}
	l, ok := snap.listeners[ss.l.Name]
	if !ok || l.Protocol != ss.l.Protocol {
		return false
	}
	ss.snap, ss.l = snap, l
	ss.rec.configGen = snap.generation
	return true
}

// decideTCP routes a connection of a tcp listener: its static mapping.
func (ss *session) decideTCP() *upstreamDial {
	targets, reason, status, _ := ss.s.route(ss.snap, ss.l, ss.rec, 0)
	v := ss.dialOrRefuse(targets, reason, status, nil)
	return v.dial
}

// dialOrRefuse turns a routing result into a verdict.
func (ss *session) dialOrRefuse(targets []netip.AddrPort, reason string, status int, replay []byte) nextStep {
	if status != 0 {
		return ss.refuse(reason, status, nil)
	}
	ss.rec.reason = reason
	d := &upstreamDial{targets: targets, guard: ss.snap.guard, timeout: ss.snap.cfg.Timeouts.Dial.Std(), replay: replay}
	switch ss.l.Protocol {
	case ProtocolConnect:
		d.greeting = []byte("HTTP/1.1 200 Connection established\r\n\r\n")
		d.failure = statusResponse(502, "dial_failed")
	case ProtocolHTTP:
		d.failure = statusResponse(502, "dial_failed")
	}
	return nextStep{dial: d}
}

// refuse records a refusal and answers HTTP and CONNECT clients with status (when not 0).
func (ss *session) refuse(reason string, status int, err error) nextStep {
	ss.rec.decision, ss.rec.reason = decisionRefuse, reason
	if err != nil {
		ss.rec.relayErr = err
	}
	if status != 0 && (ss.l.Protocol == ProtocolHTTP || ss.l.Protocol == ProtocolConnect) {
		return nextStep{answer: statusResponse(status, reason)}
	}
	return nextStep{}
}

// route decides where a connection goes: the static mapping for its host on its listener, an IP
// literal inside the allowed destinations, or an allowed name, which resolve reports is to be
// resolved with the customer's DNS (then resolved decides). It returns the candidate targets and
// the reason, or a refusal reason with an HTTP status.
func (s *Server) route(snap *snapshot, l Listener, rec *connRecord, port uint16) (targets []netip.AddrPort, reason string, status int, resolve bool) {
	if target, ok := snap.static[staticKey{l.Name, rec.name}]; ok {
		return []netip.AddrPort{target}, "static", 0, false
	}
	// tcp listeners, and tls/http listeners without an upstream port, serve their static
	// mappings only.
	if port == 0 {
		return nil, "no_route", 403, false
	}
	if addr, ok := parseIPLiteral(rec.name); ok {
		ap := netip.AddrPortFrom(addr, port)
		if !snap.guard.allows(ap) {
			rec.target = ap
			return nil, "destination_forbidden", 403, false
		}
		return []netip.AddrPort{ap}, "ip_literal", 0, false
	}
	switch snap.policy.decide(rec.name) {
	case verdictDeny:
		return nil, "denied", 403, false
	case verdictNoMatch:
		return nil, "not_allowed", 403, false
	}
	return nil, "", 0, true
}

// resolved decides for an allowed name from its addresses: those inside the allowed
// destinations are the targets.
func (s *Server) resolved(snap *snapshot, rec *connRecord, port uint16, addrs []netip.Addr, err error) ([]netip.AddrPort, string, int) {
	if err != nil {
		rec.relayErr = err
		return nil, "resolve_failed", 502
	}
	targets := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a, port)
		if snap.guard.allows(ap) {
			targets = append(targets, ap)
		} else if !rec.target.IsValid() {
			rec.target = ap
		}
	}
	if len(targets) == 0 {
		return nil, "destination_forbidden", 403
	}
	return targets, "allowlist", 0
}

func readFailureReason(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "handshake_timeout"
	case errors.Is(err, errTooLarge):
		return "head_too_large"
	case errors.Is(err, errBadRequest):
		return "bad_request"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "client_closed"
	}
	return "bad_handshake"
}

func statusFor(err error) int {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 408
	}
	if errors.Is(err, errBadRequest) {
		return 400
	}
	return 0
}

// statusResponse is the HTTP response telling a client it is not proxied, and why.
func statusResponse(status int, reason string) []byte {
	body := reason + "\n"
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}

// release audits a finished connection and gives its slot back: audited first, so that a
// connection no longer counted as active always has its audit line (buffered until the next
// batch is written).
func (s *Server) release(rec *connRecord) {
	s.report(rec)
	rec.meters.active.Dec()
	s.active.Add(-1)
	s.inflight.Done()
}

// report writes the audit line and the metrics of a finished connection.
func (s *Server) report(rec *connRecord) {
	end := time.Now()
	var line [512]byte
	s.auditBuf.Write(appendAuditLine(line[:0], end, rec))
	m := rec.meters
	m.connections(rec.decision, rec.reason).Inc()
	if rec.decision == decisionAllow {
		m.up.Add(float64(rec.up))
		m.down.Add(float64(rec.down))
		m.spliced.Add(float64(rec.spliced))
		m.duration.Observe(end.Sub(rec.start).Seconds())
	}
}

// Ready reports whether the proxy accepts new connections (started and not draining).
func (s *Server) Ready() bool { return s.started.Load() && !s.draining.Load() }

// Active is the number of connections being proxied.
func (s *Server) Active() int64 { return s.active.Load() }

// Shutdown stops accepting, waits for open connections to end until ctx is done, then closes the
// remaining ones and waits for their goroutines, and writes out the audit. The error says how
// many connections had to be closed, and wraps ErrAuditLinesLost when audit lines were lost
// while it ran.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	lostBefore := s.auditBuf.linesLost.Load()
	s.mu.Lock()
	for name, bl := range s.listeners {
		s.unbind(bl)
		delete(s.listeners, name)
	}
	s.mu.Unlock()

	drained := make(chan struct{})
	go func() { s.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
		s.cancel()
		return s.stopRelays(lostBefore)
	case <-ctx.Done():
	}
	s.cancel()
	n := s.active.Load()
	why, ended := errDrainCutShort, "drain cut short"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why, ended = errDrainDeadline, "drain deadline reached"
	}
	s.mu.Lock()
	if s.relays != nil {
		s.relays.closeAll(why)
	}
	s.mu.Unlock()
	<-drained
	return errors.Join(fmt.Errorf("%s: closed %s", ended, wording.Count(int(n), "open connection")), s.stopRelays(lostBefore))
}

// stopRelays ends the relay loops once every connection is gone, and writes out the audit
// lines still buffered; the error says how many audit lines were lost since lostBefore.
func (s *Server) stopRelays(lostBefore uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relays != nil {
		s.relays.stop()
		s.relays = nil
	}
	if err := s.auditBuf.flush(); err != nil {
		return err
	}
	if lost := s.auditBuf.linesLost.Load() - lostBefore; lost > 0 {
		return fmt.Errorf("%w: lines dropped or not written while draining: %d (see the errors logged)", ErrAuditLinesLost, lost)
	}
	return nil
}

// AdminHandler serves /metrics, /healthz (the process is alive, and no audit write has lasted
// Options.AuditStallLimit) and /readyz (it accepts connections: started and not draining).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if d := s.auditBuf.writeDuration(time.Now()); s.auditStallLimit > 0 && d > s.auditStallLimit {
			http.Error(w, fmt.Sprintf("an audit write has lasted %s", d.Round(time.Second)), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ready (config generation %d)\n", s.Generation())
	})
	return mux
}
