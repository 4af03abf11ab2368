package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// namespaceNameLabel is set on every Namespace by the API server, so
// namespaceSelectors written against it must see it here too.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// manifestSet is what the oracle needs from the manifests: the labels of each
// Namespace (for namespaceSelectors) and the NetworkPolicies, in input order.
type manifestSet struct {
	namespaceLabels map[string]map[string]string
	policies        []*networkingv1.NetworkPolicy
	// origin says where each object came from ("file:line"), for duplicate reports.
	origin map[string]string
	// warnings are input the matcher reads differently from Kubernetes.
	warnings []string
}

// loadManifests reads every path (file or directory, walked in lexical order).
func loadManifests(paths []string) (*manifestSet, error) {
	set := &manifestSet{
		namespaceLabels: map[string]map[string]string{},
		origin:          map[string]string{},
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
		if !info.IsDir() {
			if err := set.loadFile(root); err != nil {
				return nil, err
			}
			continue
		}
		err = filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if entry.IsDir() {
				return nil
			}
			if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
				return nil
			}
			return set.loadFile(path)
		})
		if err != nil {
			return nil, fmt.Errorf("reading manifests under %s: %w", root, err)
		}
	}
	return set, nil
}

func (set *manifestSet) loadFile(path string) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	for _, doc := range splitDocuments(content) {
		where := fmt.Sprintf("%s:%d", path, doc.line)
		asJSON, err := yaml.YAMLToJSON(doc.body)
		if err != nil {
			return fmt.Errorf("%s: document is not valid YAML (line numbers below count from this line): %w", where, err)
		}
		if bytes.Equal(bytes.TrimSpace(asJSON), []byte("null")) {
			continue // only comments or blank lines
		}
		if err := set.addObject(where, asJSON); err != nil {
			return err
		}
	}
	return nil
}

// document is one YAML document of a multi-document file and the line (1-based)
// where its body starts.
type document struct {
	line int
	body []byte
}

// splitDocuments cuts a file at "---" separator lines, keeping each document's
// starting line so errors can point into the file (the YAML decoders in the
// Kubernetes libraries drop that information).
func splitDocuments(content []byte) []document {
	var docs []document
	current := document{line: 1}
	lines := bytes.SplitAfter(content, []byte("\n"))
	for i, line := range lines {
		trimmed := bytes.TrimRight(line, " \t\r\n")
		if bytes.Equal(trimmed, []byte("---")) || bytes.HasPrefix(trimmed, []byte("--- ")) || bytes.HasPrefix(trimmed, []byte("---\t")) {
			docs = append(docs, current)
			current = document{line: i + 2}
			continue
		}
		current.body = append(current.body, line...)
	}
	return append(docs, current)
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

func (set *manifestSet) addObject(where string, asJSON []byte) error {
	var meta typeMeta
	if err := json.Unmarshal(asJSON, &meta); err != nil {
		return fmt.Errorf("%s: not a Kubernetes object (need a mapping with apiVersion and kind): %w", where, err)
	}
	switch {
	case meta.APIVersion == "v1" && meta.Kind == "List":
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(asJSON, &list); err != nil {
			return fmt.Errorf("%s: decoding List: %w", where, err)
		}
		for i, item := range list.Items {
			if err := set.addObject(fmt.Sprintf("%s (items[%d])", where, i), item); err != nil {
				return err
			}
		}
	case meta.APIVersion == "v1" && meta.Kind == "Namespace":
		var ns corev1.Namespace
		if err := yaml.UnmarshalStrict(asJSON, &ns); err != nil {
			return fmt.Errorf("%s: decoding Namespace: %w", where, err)
		}
		if ns.Name == "" {
			return fmt.Errorf("%s: Namespace without metadata.name", where)
		}
		key := "Namespace " + ns.Name
		if prev, dup := set.origin[key]; dup {
			return fmt.Errorf("%s: %s is also defined at %s; keep one definition", where, key, prev)
		}
		set.origin[key] = where
		labels := map[string]string{}
		for k, v := range ns.Labels {
			labels[k] = v
		}
		labels[namespaceNameLabel] = ns.Name
		set.namespaceLabels[ns.Name] = labels
	case meta.APIVersion == "networking.k8s.io/v1" && meta.Kind == "NetworkPolicy":
		var policy networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict(asJSON, &policy); err != nil {
			return fmt.Errorf("%s: decoding NetworkPolicy: %w", where, err)
		}
		if policy.Name == "" {
			return fmt.Errorf("%s: NetworkPolicy without metadata.name", where)
		}
		if policy.Namespace == "" {
			// What the API server does for a namespace-less object applied
			// without a context namespace.
			policy.Namespace = metav1.NamespaceDefault
		}
		key := "NetworkPolicy " + policyName(&policy)
		if prev, dup := set.origin[key]; dup {
			return fmt.Errorf("%s: %s is also defined at %s; keep one definition", where, key, prev)
		}
		set.origin[key] = where
		if err := validatePolicy(&policy); err != nil {
			return fmt.Errorf("%s: NetworkPolicy %s: %w", where, policyName(&policy), err)
		}
		for _, path := range notInSelectors(&policy) {
			set.warnings = append(set.warnings, fmt.Sprintf("%s: NetworkPolicy %s: %s uses NotIn, which cyclonus's matcher does not match against an object lacking the key (Kubernetes does); verdicts involving such objects may be wrong", where, policyName(&policy), path))
		}
		defaultPolicyTypes(&policy)
		set.policies = append(set.policies, &policy)
	}
	return nil
}

func policyName(policy *networkingv1.NetworkPolicy) string {
	return policy.Namespace + "/" + policy.Name
}

// defaultPolicyTypes applies the API server's defaulting: a policy without
// policyTypes is an Ingress policy, and also an Egress one if it has egress
// rules. (The matcher refuses a policy without types.)
func defaultPolicyTypes(policy *networkingv1.NetworkPolicy) {
	if len(policy.Spec.PolicyTypes) > 0 {
		return
	}
	policy.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(policy.Spec.Egress) > 0 {
		policy.Spec.PolicyTypes = append(policy.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	}
}

// validatePolicy rejects, with the field path, everything the API server would
// reject that the matcher would otherwise panic on or silently misread.
func validatePolicy(policy *networkingv1.NetworkPolicy) error {
	var errs []error
	if err := validateSelector(&policy.Spec.PodSelector); err != nil {
		errs = append(errs, fmt.Errorf("spec.podSelector: %w", err))
	}
	for i, t := range policy.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, fmt.Errorf("spec.policyTypes[%d]: %q is not Ingress or Egress", i, t))
		}
	}
	for i, rule := range policy.Spec.Ingress {
		errs = append(errs, validatePeers(fmt.Sprintf("spec.ingress[%d].from", i), rule.From)...)
		errs = append(errs, validatePorts(fmt.Sprintf("spec.ingress[%d].ports", i), rule.Ports)...)
	}
	for i, rule := range policy.Spec.Egress {
		errs = append(errs, validatePeers(fmt.Sprintf("spec.egress[%d].to", i), rule.To)...)
		errs = append(errs, validatePorts(fmt.Sprintf("spec.egress[%d].ports", i), rule.Ports)...)
	}
	return errors.Join(errs...)
}

// notInSelectors lists the paths of the selectors that use NotIn.
func notInSelectors(policy *networkingv1.NetworkPolicy) []string {
	var paths []string
	check := func(path string, selector *metav1.LabelSelector) {
		if selector == nil {
			return
		}
		for i, expr := range selector.MatchExpressions {
			if expr.Operator == metav1.LabelSelectorOpNotIn {
				paths = append(paths, fmt.Sprintf("%s.matchExpressions[%d]", path, i))
			}
		}
	}
	check("spec.podSelector", &policy.Spec.PodSelector)
	peers := func(path string, list []networkingv1.NetworkPolicyPeer) {
		for i, peer := range list {
			check(fmt.Sprintf("%s[%d].podSelector", path, i), peer.PodSelector)
			check(fmt.Sprintf("%s[%d].namespaceSelector", path, i), peer.NamespaceSelector)
		}
	}
	for i, rule := range policy.Spec.Ingress {
		peers(fmt.Sprintf("spec.ingress[%d].from", i), rule.From)
	}
	for i, rule := range policy.Spec.Egress {
		peers(fmt.Sprintf("spec.egress[%d].to", i), rule.To)
	}
	return paths
}

func validateSelector(selector *metav1.LabelSelector) error {
	if _, err := metav1.LabelSelectorAsSelector(selector); err != nil {
		return fmt.Errorf("invalid label selector: %w", err)
	}
	return nil
}

func validatePeers(path string, peers []networkingv1.NetworkPolicyPeer) []error {
	var errs []error
	for i, peer := range peers {
		at := fmt.Sprintf("%s[%d]", path, i)
		hasSelector := peer.PodSelector != nil || peer.NamespaceSelector != nil
		switch {
		case peer.IPBlock == nil && !hasSelector:
			errs = append(errs, fmt.Errorf("%s: empty peer; give ipBlock, or podSelector and/or namespaceSelector", at))
		case peer.IPBlock != nil && hasSelector:
			errs = append(errs, fmt.Errorf("%s: ipBlock cannot be combined with podSelector/namespaceSelector; split it into two peers", at))
		case peer.IPBlock != nil:
			errs = append(errs, validateIPBlock(at+".ipBlock", peer.IPBlock)...)
		}
		if peer.PodSelector != nil {
			if err := validateSelector(peer.PodSelector); err != nil {
				errs = append(errs, fmt.Errorf("%s.podSelector: %w", at, err))
			}
		}
		if peer.NamespaceSelector != nil {
			if err := validateSelector(peer.NamespaceSelector); err != nil {
				errs = append(errs, fmt.Errorf("%s.namespaceSelector: %w", at, err))
			}
		}
	}
	return errs
}

func validateIPBlock(path string, block *networkingv1.IPBlock) []error {
	cidr, err := netip.ParsePrefix(block.CIDR)
	if err != nil {
		return []error{fmt.Errorf("%s.cidr: %w (want e.g. 10.0.0.0/16)", path, err)}
	}
	var errs []error
	for i, except := range block.Except {
		prefix, err := netip.ParsePrefix(except)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.except[%d]: %w", path, i, err))
			continue
		}
		if prefix.Addr().Is4() != cidr.Addr().Is4() || prefix.Bits() <= cidr.Bits() || !cidr.Contains(prefix.Addr()) {
			errs = append(errs, fmt.Errorf("%s.except[%d]: %s must be strictly inside cidr %s", path, i, except, block.CIDR))
		}
	}
	return errs
}

func validatePorts(path string, ports []networkingv1.NetworkPolicyPort) []error {
	var errs []error
	for i, port := range ports {
		at := fmt.Sprintf("%s[%d]", path, i)
		if port.Protocol != nil && !slices.Contains([]corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}, *port.Protocol) {
			errs = append(errs, fmt.Errorf("%s.protocol: %q is not TCP, UDP or SCTP", at, *port.Protocol))
		}
		if port.Port != nil {
			switch port.Port.Type {
			case intstr.Int:
				if port.Port.IntVal < 1 || port.Port.IntVal > 65535 {
					errs = append(errs, fmt.Errorf("%s.port: %d is not in 1-65535", at, port.Port.IntVal))
				}
			case intstr.String:
				if strings.TrimSpace(port.Port.StrVal) == "" {
					errs = append(errs, fmt.Errorf("%s.port: empty port name", at))
				}
			}
		}
		if port.EndPort == nil {
			continue
		}
		switch {
		case port.Port == nil || port.Port.Type != intstr.Int:
			errs = append(errs, fmt.Errorf("%s.endPort: needs a numeric port to start the range", at))
		case *port.EndPort < port.Port.IntVal || *port.EndPort > 65535:
			errs = append(errs, fmt.Errorf("%s.endPort: %d must be between port %d and 65535", at, *port.EndPort, port.Port.IntVal))
		}
	}
	return errs
}
