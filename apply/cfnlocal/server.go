// Package cfnlocal is an in-process CloudFormation (and STS GetCallerIdentity)
// endpoint for tests and dry runs. It speaks the real AWS Query protocol, so
// the unmodified aws-sdk-go-v2 clients talk to it over HTTP on loopback; it
// keeps stacks and change sets in memory, is strict about what the real
// service rejects, computes change sets with AWS's replacement data (the
// render/cloudformation/spec package), plays executions out as stack events
// over time, enforces stack policies and termination protection, and injects
// faults: a resource that fails during execution, and throttling.
package cfnlocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// Options configure a Server.
type Options struct {
	// Spec validates templates and classifies changes; required.
	Spec *spec.Spec
	// Region and Account appear in ARNs; defaults eu-central-1 and 123456789012.
	Region, Account string
	// Step is the simulated time one provisioning step takes (a change set
	// being computed, one resource event); default 5ms.
	Step time.Duration
}

// Server is the endpoint's state. Its zero value is not usable; call New.
type Server struct {
	opts Options

	// ctx ends the executions still playing out when the server is closed.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	seq        int
	stacks     map[string]*stack // by name; deleted stacks are removed
	calls      map[string]int
	throttle   int
	throttled  int
	failures   map[string]string     // "stack/logicalID" → reason
	executed   map[string]*changeSet // by ARN: executed change sets, off their stack's list
	httpServer *http.Server
}

// New returns a server with no stacks.
func New(opts Options) (*Server, error) {
	if opts.Spec == nil {
		return nil, errors.New("cfnlocal: Options.Spec is required (spec.Load())")
	}
	if opts.Region == "" {
		opts.Region = "eu-central-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.Step <= 0 {
		opts.Step = 5 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		opts:     opts,
		ctx:      ctx,
		cancel:   cancel,
		stacks:   map[string]*stack{},
		calls:    map[string]int{},
		failures: map[string]string{},
		executed: map[string]*changeSet{},
	}, nil
}

// Listen serves on a fresh loopback port and returns the endpoint URL, e.g.
// http://127.0.0.1:40123, for the SDK's BaseEndpoint.
func (s *Server) Listen() (string, error) { return s.ListenAddr("127.0.0.1:0") }

// ListenAddr serves on addr, which must be a loopback address: the endpoint
// checks no signatures and must not be reachable from elsewhere.
func (s *Server) ListenAddr(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return "", fmt.Errorf("listen address %q is not a loopback IP address (use 127.0.0.1:PORT or [::1]:PORT)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.httpServer = srv
	s.mu.Unlock()
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Close stops serving and ends the executions still in progress.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	srv := s.httpServer
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.wg.Wait()
	return err
}

// FailResource makes the next execution that creates, updates or replaces
// logicalID in stackName fail on that resource with reason, which rolls the
// stack back, or the next deletion of stackName fail on it (DELETE_FAILED),
// as a security group still used by a load balancer's network interfaces
// does. The fault fires once.
func (s *Server) FailResource(stackName, logicalID, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[stackName+"/"+logicalID] = reason
}

// Throttle answers the next n requests with a Throttling error.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Throttled is how many requests were answered with a Throttling error.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Calls is how many requests of action were served (throttled ones excluded).
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// StackState is a snapshot of one stack, for assertions.
type StackState struct {
	ID, Name, Status, StatusReason string
	Template                       string
	Tags                           []Tag
	Policy                         string
	TerminationProtection          bool
	ChangeSets                     []string // names, in creation order
	Events                         []Event  // oldest first
}

// Event is one stack event.
type Event struct {
	LogicalID, Type, Status, Reason string
}

// Stack returns the state of the stack named name, if it exists.
func (s *Server) Stack(name string) (StackState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stacks[name]
	if st == nil {
		return StackState{}, false
	}
	state := StackState{
		ID: st.id, Name: st.name, Status: st.status, StatusReason: st.statusReason,
		Template: string(st.template), Tags: append([]Tag(nil), st.tags...), Policy: st.policy,
		TerminationProtection: st.terminationProtection,
	}
	for _, cs := range st.changeSets {
		state.ChangeSets = append(state.ChangeSets, cs.name)
	}
	for _, e := range st.events {
		state.Events = append(state.Events, Event{LogicalID: e.logicalID, Type: e.resourceType, Status: e.status, Reason: e.reason})
	}
	return state, true
}

// ServeHTTP answers one Query-protocol request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seq++
	requestID := fmt.Sprintf("%08x-cf10-4c41-8000-%012x", s.seq, s.seq)
	s.mu.Unlock()

	if r.Method != http.MethodPost {
		writeError(w, cloudFormationXMLNS, requestID, newAPIError(http.StatusMethodNotAllowed, "InvalidAction", "the Query protocol takes POST requests, not %s", r.Method))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, cloudFormationXMLNS, requestID, newAPIError(http.StatusBadRequest, "MalformedQueryString", "%v", err))
		return
	}
	f := form(r.PostForm)
	action, version := f.get("Action"), f.get("Version")
	xmlns := cloudFormationXMLNS
	if version == stsVersion {
		xmlns = stsXMLNS
	}
	if err := s.checkScope(r.Header.Get("Authorization"), version); err != nil {
		writeError(w, xmlns, requestID, err)
		return
	}
	if s.takeThrottle() {
		writeError(w, xmlns, requestID, newAPIError(http.StatusBadRequest, "Throttling", "Rate exceeded"))
		return
	}

	var result any
	var err *apiError
	switch version {
	case stsVersion:
		if action != "GetCallerIdentity" {
			err = newAPIError(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", action, version)
			break
		}
		result = &callerIdentityResult{
			UserID:  "AIDACFNLOCALEXAMPLE",
			Account: s.opts.Account,
			Arn:     fmt.Sprintf("arn:aws:iam::%s:user/cfnlocal", s.opts.Account),
		}
	case cloudFormationVersion:
		handler, ok := s.handlers()[action]
		if !ok {
			err = newAPIError(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", action, version)
			break
		}
		result, err = handler(f)
	default:
		err = newAPIError(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %q", action, version)
	}
	s.mu.Lock()
	s.calls[action]++
	s.mu.Unlock()
	if err != nil {
		writeError(w, xmlns, requestID, err)
		return
	}
	writeResult(w, xmlns, action, requestID, result)
}

// checkScope checks the SigV4 credential scope as the service does before
// looking at the signature: a request must be signed, for this region, and
// for the service its Version belongs to. The signature itself is not
// verified (any credentials work, as with any local endpoint).
func (s *Server) checkScope(authorization, version string) *apiError {
	credential, ok := strings.CutPrefix(authorization, "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return newAPIError(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	credential, _, _ = strings.Cut(credential, ",")
	parts := strings.Split(credential, "/") // key/date/region/service/aws4_request
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return newAPIError(http.StatusForbidden, "IncompleteSignature", "Authorization header requires a Credential of the form key/date/region/service/aws4_request, got %q", credential)
	}
	if parts[2] != s.opts.Region {
		return newAPIError(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not '%s'. This endpoint serves %s.", parts[2], s.opts.Region)
	}
	want := "cloudformation"
	if version == stsVersion {
		want = "sts"
	}
	if parts[3] != want {
		return newAPIError(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: '%s'.", want)
	}
	return nil
}

func (s *Server) takeThrottle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.throttle <= 0 {
		return false
	}
	s.throttle--
	s.throttled++
	return true
}

func (s *Server) handlers() map[string]func(form) (any, *apiError) {
	return map[string]func(form) (any, *apiError){
		"DescribeStacks":              s.describeStacks,
		"CreateChangeSet":             s.createChangeSet,
		"DescribeChangeSet":           s.describeChangeSet,
		"ListChangeSets":              s.listChangeSets,
		"ExecuteChangeSet":            s.executeChangeSet,
		"DeleteChangeSet":             s.deleteChangeSet,
		"DescribeStackEvents":         s.describeStackEvents,
		"GetTemplate":                 s.getTemplate,
		"SetStackPolicy":              s.setStackPolicy,
		"GetStackPolicy":              s.getStackPolicy,
		"UpdateTerminationProtection": s.updateTerminationProtection,
		"DeleteStack":                 s.deleteStack,
		"ListImports":                 s.listImports,
	}
}
