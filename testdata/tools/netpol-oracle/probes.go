package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// endpoint is one side of a probe. With a namespace it is a pod (labels are
// its pod labels); without, a host outside the cluster. The IP is always
// needed: ipBlock peers match on it, for pods too.
type endpoint struct {
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	IP        string            `json:"ip"`
}

// probe is one connection attempt to judge.
type probe struct {
	Name     string   `json:"name,omitempty"`
	From     endpoint `json:"from"`
	To       endpoint `json:"to"`
	Port     int      `json:"port"`
	PortName string   `json:"portName,omitempty"` // the destination container port's name, for policies naming ports
	Protocol string   `json:"protocol,omitempty"` // TCP (default), UDP or SCTP
}

// locatedProbe remembers where the probe was written, for error messages.
type locatedProbe struct {
	probe
	where string
}

func loadProbes(path string, stdin io.Reader) ([]locatedProbe, error) {
	var content []byte
	var err error
	if path == "-" {
		path = "<stdin>"
		content, err = io.ReadAll(stdin)
	} else {
		content, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading probes: %w", err)
	}
	return parseProbes(path, content)
}

// parseProbes decodes the list element by element so that each probe's
// position (file:line:col) is known for error messages.
func parseProbes(path string, content []byte) ([]locatedProbe, error) {
	dec := json.NewDecoder(bytes.NewReader(content))
	dec.DisallowUnknownFields()
	at := func(offset int64) string {
		line, col := lineCol(content, offset)
		return fmt.Sprintf("%s:%d:%d", path, line, col)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("%s: probes must be a JSON list: [{\"from\": {...}, \"to\": {...}, \"port\": 443}]", at(0))
	}
	var probes []locatedProbe
	for dec.More() {
		start := skipSeparators(content, dec.InputOffset())
		var p probe
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("%s: decoding probe: %w", at(errorOffset(err, dec.InputOffset())), err)
		}
		located := locatedProbe{probe: p, where: at(start)}
		if err := located.validate(); err != nil {
			return nil, fmt.Errorf("%s: probe %q: %w", located.where, p.Name, err)
		}
		probes = append(probes, located)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%s: unterminated probe list: %w", at(dec.InputOffset()), err)
	}
	return probes, nil
}

func errorOffset(err error, fallback int64) int64 {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return syntax.Offset
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return typeErr.Offset
	}
	return fallback
}

func skipSeparators(content []byte, offset int64) int64 {
	for offset < int64(len(content)) && bytes.IndexByte([]byte(" \t\r\n,"), content[offset]) >= 0 {
		offset++
	}
	return offset
}

// lineCol turns a byte offset into 1-based line and column.
func lineCol(content []byte, offset int64) (int, int) {
	offset = min(offset, int64(len(content)))
	before := content[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func (p *locatedProbe) validate() error {
	if err := p.From.validate(); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := p.To.validate(); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	if p.Port < 1 || p.Port > 65535 {
		return fmt.Errorf("port %d is not in 1-65535", p.Port)
	}
	if p.Protocol == "" {
		p.Protocol = string(corev1.ProtocolTCP)
	}
	if !slices.Contains([]string{"TCP", "UDP", "SCTP"}, p.Protocol) {
		return fmt.Errorf("protocol %q is not TCP, UDP or SCTP (upper case)", p.Protocol)
	}
	return nil
}

func (e *endpoint) validate() error {
	addr, err := netip.ParseAddr(e.IP)
	if err != nil {
		return fmt.Errorf("ip: %w (every endpoint needs an address, e.g. \"10.0.0.5\")", err)
	}
	if addr.Zone() != "" {
		return fmt.Errorf("ip %s: zones are not allowed", e.IP)
	}
	if e.Namespace == "" && len(e.Labels) > 0 {
		return errors.New("labels without a namespace: an endpoint without namespace is outside the cluster and has no pod labels; add \"namespace\"")
	}
	return nil
}

// directionVerdict is the answer for one direction (ingress at the destination
// pod, egress at the source pod). AllowedBy lists the policies selecting that
// pod whose rules admit the traffic; DeniedBy those selecting it whose rules
// do not (they deny only when AllowedBy is empty).
type directionVerdict struct {
	Allowed   bool     `json:"allowed"`
	AllowedBy []string `json:"allowedBy"`
	DeniedBy  []string `json:"deniedBy"`
}

type verdict struct {
	Name    string           `json:"name,omitempty"`
	Allowed bool             `json:"allowed"`
	Ingress directionVerdict `json:"ingress"`
	Egress  directionVerdict `json:"egress"`
}

// judge holds the matcher built from all policies (the verdict) and one
// matcher per policy (the attribution).
type judge struct {
	set       *manifestSet
	all       *matcher.Policy
	perPolicy []*matcher.Policy
}

func evaluate(set *manifestSet, probes []locatedProbe) (verdicts []verdict, err error) {
	defer func() {
		// The matcher panics on input it considers invalid; validation should
		// have caught all of it, but a panic must still end as an error.
		if r := recover(); r != nil {
			err = fmt.Errorf("the cyclonus matcher failed on input that passed validation: %v", r)
		}
	}()
	j := judge{set: set, all: matcher.BuildNetworkPolicies(false, set.policies)}
	for _, policy := range set.policies {
		j.perPolicy = append(j.perPolicy, matcher.BuildNetworkPolicies(false, []*networkingv1.NetworkPolicy{policy}))
	}
	for _, p := range probes {
		v, err := j.judge(p)
		if err != nil {
			return nil, err
		}
		verdicts = append(verdicts, v)
	}
	return verdicts, nil
}

func (j *judge) judge(p locatedProbe) (verdict, error) {
	traffic := &matcher.Traffic{
		Source:           j.peer(p.From),
		Destination:      j.peer(p.To),
		ResolvedPort:     p.Port,
		ResolvedPortName: p.PortName,
		Protocol:         corev1.Protocol(p.Protocol),
	}
	v := verdict{Name: p.Name}
	for _, isIngress := range []bool{true, false} {
		dv := directionVerdict{
			Allowed:   j.all.IsIngressOrEgressAllowed(traffic, isIngress).IsAllowed(),
			AllowedBy: []string{},
			DeniedBy:  []string{},
		}
		for i, single := range j.perPolicy {
			result := single.IsIngressOrEgressAllowed(traffic, isIngress)
			switch {
			case len(result.AllowingTargets) > 0:
				dv.AllowedBy = append(dv.AllowedBy, policyName(j.set.policies[i]))
			case len(result.DenyingTargets) > 0:
				dv.DeniedBy = append(dv.DeniedBy, policyName(j.set.policies[i]))
			}
		}
		slices.Sort(dv.AllowedBy)
		slices.Sort(dv.DeniedBy)
		// Policies are additive, so the per-policy view must agree with the
		// combined one; a disagreement would make the attribution a lie.
		if attributed := len(dv.AllowedBy) > 0 || len(dv.DeniedBy) == 0; attributed != dv.Allowed {
			return verdict{}, fmt.Errorf("%s: probe %q: combined verdict %t disagrees with per-policy verdict %t", p.where, p.Name, dv.Allowed, attributed)
		}
		if isIngress {
			v.Ingress = dv
		} else {
			v.Egress = dv
		}
	}
	v.Allowed = v.Ingress.Allowed && v.Egress.Allowed
	return v, nil
}

func (j *judge) peer(e endpoint) *matcher.TrafficPeer {
	if e.Namespace == "" {
		return &matcher.TrafficPeer{IP: e.IP}
	}
	nsLabels, known := j.set.namespaceLabels[e.Namespace]
	if !known {
		// A namespace with no manifest still carries the label the API server
		// sets on every namespace.
		nsLabels = map[string]string{namespaceNameLabel: e.Namespace}
	}
	podLabels := e.Labels
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	return &matcher.TrafficPeer{
		IP: e.IP,
		Internal: &matcher.InternalPeer{
			Namespace:       e.Namespace,
			NamespaceLabels: nsLabels,
			PodLabels:       podLabels,
		},
	}
}

func writeVerdicts(w io.Writer, verdicts []verdict) error {
	if verdicts == nil {
		verdicts = []verdict{}
	}
	out, err := json.MarshalIndent(verdicts, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(out, '\n'))
	return err
}
