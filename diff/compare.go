package diff

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/render/cloudformation"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
)

// Kind is the kind of artifact a rendered file is, from its top folder.
type Kind string

const (
	KindStack Kind = "stack" // aws/: CloudFormation templates
	KindDNS   Kind = "dns"   // dns/: Corefile and zone files
	KindKube  Kind = "kube"  // kube/: Kubernetes manifests
	KindProxy Kind = "proxy" // proxy/: the proxy's configuration
	KindSSH   Kind = "ssh"   // ssh/: operators' SSH config
)

var kindOfFolder = map[string]Kind{cloudformation.Dir: KindStack, "dns": KindDNS, "kube": KindKube, "proxy": KindProxy, "ssh": KindSSH}

func kindOf(path string) Kind {
	top, _, _ := strings.Cut(path, "/")
	if k, ok := kindOfFolder[top]; ok {
		return k
	}
	return Kind(top)
}

// Title is how a kind is named in the preview.
func (k Kind) Title() string {
	switch k {
	case KindStack:
		return "CloudFormation stack"
	case KindDNS:
		return "DNS"
	case KindKube:
		return "Kubernetes manifests"
	case KindProxy:
		return "proxy config"
	case KindSSH:
		return "SSH config"
	}
	return string(k)
}

// hubName is the owner name of everything that is not one customer's.
const hubName = "hub"

// ownerIndex attributes a rendered file to the customer it is for, by where
// the build puts it: aws/vsoc-customer-<name>.template.json,
// dns/forward/<name>.server, dns/zones/<zone>.zone (the zone of a domain or
// KKP endpoint of the customer), kube/clusters/<name>/…, proxy/<name>.yaml,
// ssh/<name>.conf. Anything else is the hub's. Only the place in the layout
// that names the customer is looked at: a customer may be called "zones" or
// "clusters" like a folder.
type ownerIndex struct {
	inBase, inHead map[string]bool
	zones          map[string]string // domain or KKP endpoint → customer
}

func newOwnerIndex(base, head *compiler.Fleet) ownerIndex {
	ix := ownerIndex{inBase: map[string]bool{}, inHead: map[string]bool{}, zones: map[string]string{}}
	for _, f := range []*compiler.Fleet{base, head} {
		if f == nil {
			continue
		}
		in := ix.inHead
		if f == base {
			in = ix.inBase
		}
		for _, c := range f.Customers {
			in[c.Name] = true
			for _, z := range append(slices.Clone(c.DNS.Domains), c.KKP.Endpoints.UI, c.KKP.Endpoints.API) {
				if z != "" {
					ix.zones[strings.ToLower(strings.TrimSuffix(z, "."))] = c.Name
				}
			}
		}
	}
	return ix
}

func (ix ownerIndex) known(name string) bool { return ix.inBase[name] || ix.inHead[name] }

// owner returns the customer a file is for, or "" for the hub.
func (ix ownerIndex) owner(path string) string {
	parts := strings.Split(path, "/")
	var named string
	switch {
	case len(parts) == 2 && parts[0] == "aws":
		stack, _ := strings.CutSuffix(parts[1], ".template.json")
		named, _ = strings.CutPrefix(stack, compiler.StackName(""))
	case len(parts) == 2 && (parts[0] == "proxy" || parts[0] == "ssh"):
		named, _, _ = strings.Cut(parts[1], ".")
	case len(parts) == 3 && parts[0] == "dns" && parts[1] == "forward":
		named, _ = strings.CutSuffix(parts[2], ".server")
	case len(parts) == 3 && parts[0] == "dns" && parts[1] == "zones":
		zone, _ := strings.CutSuffix(parts[2], ".zone")
		return ix.zoneOwner(zone)
	case len(parts) >= 3 && parts[0] == "kube" && parts[1] == "clusters":
		named = parts[2]
	}
	if ix.known(named) {
		return named
	}
	return ""
}

// zoneOwner is the customer whose domain or KKP endpoint is zone, or the
// closest one above it; "" when none is.
func (ix ownerIndex) zoneOwner(zone string) string {
	labels := strings.Split(strings.ToLower(zone), ".")
	for i := range len(labels) - 1 {
		if c, ok := ix.zones[strings.Join(labels[i:], ".")]; ok {
			return c
		}
	}
	return ""
}

// status of a customer between base and head.
func (ix ownerIndex) status(name string) Status {
	switch {
	case !ix.inBase[name] && ix.inHead[name]:
		return Added
	case ix.inBase[name] && !ix.inHead[name]:
		return Removed
	}
	return Changed
}

// comparison compares two output trees.
type comparison struct {
	spec   *spec.Spec
	owners ownerIndex
}

func (c comparison) compare(p *Preview, base, head render.Files) error {
	exports, err := c.exportChanges(base, head)
	if err != nil {
		return err
	}
	p.Blocking, p.Ordered = c.blockers(exports, base, head)
	p.Summary.Blocking = len(p.Blocking)
	byOwner := map[string]*OwnerDiff{}
	for _, path := range sortedKeys(union(base, head)) {
		old, inBase := base[path]
		new, inHead := head[path]
		var a ArtifactDiff
		switch {
		case !inBase:
			a = ArtifactDiff{Kind: kindOf(path), Path: path, Status: Added}
			p.Summary.FilesAdded++
		case !inHead:
			a = ArtifactDiff{Kind: kindOf(path), Path: path, Status: Removed}
			p.Summary.FilesRemoved++
		case bytes.Equal(old, new):
			continue
		default:
			a = ArtifactDiff{Kind: kindOf(path), Path: path, Status: Changed}
			p.Summary.FilesChanged++
		}
		if a.Kind == KindStack {
			if err := c.classifyStack(&a, old, new, exports); err != nil {
				return fmt.Errorf("comparing %s: %w", path, err)
			}
		} else if a.Status == Changed {
			a.Differences = fileDifferences(path, old, new)
		}

		name := c.owners.owner(path)
		o := byOwner[name]
		if o == nil {
			o = &OwnerDiff{Name: name, Status: Changed}
			if name == "" {
				o.Name, o.Hub = hubName, true
			} else {
				o.Status = c.owners.status(name)
			}
			byOwner[name] = o
		}
		o.Artifacts = append(o.Artifacts, a)
		if a.Kind == KindStack && a.Status == Removed {
			p.Deletions = append(p.Deletions, stackDeletion(o.Name, stackOf(path), len(a.Resources)))
		}
	}

	// The hub first, then customers by name (the hub's key "" sorts first).
	for _, name := range sortedKeys(byOwner) {
		o := byOwner[name]
		if o.Hub {
			o.Status = overall(o.Artifacts)
		}
		p.Owners = append(p.Owners, *o)
		switch {
		case o.Hub:
		case o.Status == Added:
			p.Summary.CustomersAdded++
		case o.Status == Removed:
			p.Summary.CustomersRemoved++
		default:
			p.Summary.CustomersChanged++
		}
		for _, a := range o.Artifacts {
			for _, r := range a.Resources {
				switch r.Action {
				case spec.Add.String():
					p.Summary.ResourcesAdded++
				case spec.Modify.String():
					p.Summary.ResourcesModified++
				case spec.Replace.String():
					p.Summary.ResourcesReplaced++
				case spec.Remove.String():
					p.Summary.ResourcesRemoved++
				}
				if r.Destructive {
					p.Destructive = append(p.Destructive, consequence(o.Name, stackOf(a.Path), r))
				}
			}
		}
	}
	p.Summary.Destructive = len(p.Destructive)
	return nil
}

// overall is Added when every file is added, Removed when every file is
// removed, Changed otherwise.
func overall(artifacts []ArtifactDiff) Status {
	status := artifacts[0].Status
	for _, a := range artifacts[1:] {
		if a.Status != status {
			return Changed
		}
	}
	return status
}

// stackOf is the stack name of a template path (aws/<stack>.template.json).
func stackOf(path string) string {
	base := path[strings.LastIndex(path, "/")+1:]
	return strings.TrimSuffix(base, ".template.json")
}

// classifyStack fills a stack's resource changes from AWS's replacement
// data, with the property-level differences of each changed resource. The
// stack's imports of exports that change value (exports) change too.
func (c comparison) classifyStack(a *ArtifactDiff, old, new []byte, exports map[string]exportChange) error {
	oldResolved, err := importsReplaced(old, exports, "before")
	if err != nil {
		return fmt.Errorf("base template: %w", err)
	}
	newResolved, err := importsReplaced(new, exports, "after")
	if err != nil {
		return fmt.Errorf("head template: %w", err)
	}
	changes, err := c.spec.Classify(oldResolved, newResolved)
	if err != nil {
		return err
	}
	oldT, err := decodeTemplate(old)
	if err != nil {
		return fmt.Errorf("base template: %w", err)
	}
	newT, err := decodeTemplate(new)
	if err != nil {
		return fmt.Errorf("head template: %w", err)
	}
	for _, ch := range changes {
		r := ResourceChange{
			LogicalID:   ch.LogicalID,
			Type:        ch.Type,
			Action:      ch.Action.String(),
			Properties:  ch.Properties,
			Replacing:   ch.Replacing,
			Conditional: ch.Conditional,
			Destructive: (ch.Action == spec.Replace || ch.Action == spec.Remove) && spec.Protected(ch.Type),
		}
		oldR, newR := oldT.resources[ch.LogicalID], newT.resources[ch.LogicalID]
		r.Name = nameTag(newR)
		if r.Name == "" {
			r.Name = nameTag(oldR)
		}
		if ch.Action == spec.Modify || ch.Action == spec.Replace {
			r.Differences = withReferenceChanges(valueDifferences("", oldR, newR), ch.Properties, oldR, exports)
		}
		if r.Destructive && r.Type == subnetType {
			r.subnet = contentsOf(oldT, newT, r.LogicalID)
		}
		a.Resources = append(a.Resources, r)
	}
	if a.Status == Changed {
		a.Differences = valueDifferences("", oldT.rest, newT.rest)
	}
	return nil
}

// withReferenceChanges adds the properties that change although their text
// does not: they refer (Ref, Fn::GetAtt) to a resource that is replaced, so
// the ID they resolve to is new, or import an export whose value changes.
func withReferenceChanges(ds []Difference, properties []string, old any, exports map[string]exportChange) []Difference {
	r, _ := old.(map[string]any)
	props, _ := r["Properties"].(map[string]any)
	for _, p := range properties {
		path := ".Properties." + p
		covered := false
		for _, d := range ds {
			rest, ok := strings.CutPrefix(d.Path, path)
			covered = covered || (ok && (rest == "" || rest[0] == '.' || rest[0] == '[' || rest[0] == ' '))
		}
		if !covered {
			ds = append(ds, Difference{Path: path, Change: Changed, Old: compact(props[p]), New: unresolvedValue(props[p], exports)})
		}
	}
	return ds
}

// template is a decoded template: its resources and everything else.
type template struct {
	resources map[string]any
	rest      map[string]any
}

func decodeTemplate(b []byte) (template, error) {
	t := template{resources: map[string]any{}, rest: map[string]any{}}
	if b == nil {
		return t, nil
	}
	v, err := decodeJSON(b)
	if err != nil {
		return t, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return t, fmt.Errorf("a template is a JSON object, not %s", compact(v))
	}
	for k, val := range obj {
		if k == "Resources" {
			t.resources, _ = val.(map[string]any)
			continue
		}
		t.rest[k] = val
	}
	return t, nil
}

// nameTag is the value of a resource's Name tag (a hosted zone's are
// HostedZoneTags), "" without one.
func nameTag(resource any) string {
	r, _ := resource.(map[string]any)
	props, _ := r["Properties"].(map[string]any)
	tags, _ := props["Tags"].([]any)
	if tags == nil {
		tags, _ = props["HostedZoneTags"].([]any)
	}
	for _, t := range tags {
		tag, _ := t.(map[string]any)
		if tag["Key"] == "Name" {
			if v, ok := tag["Value"].(string); ok {
				return v
			}
		}
	}
	return ""
}

// impact is what a protected resource is to the people using it, and what
// its replacement or removal does to them. tag is the role part of the Name
// tag the CloudFormation renderer gives it ("<stack>-cgw-<gateway>"), left
// out of the message.
type impact struct {
	noun, tag, replaced, removed string
}

var impacts = map[string]impact{
	"AWS::EC2::VPC": {"VPC", "vpc",
		"everything in it is recreated (subnets, the proxy's load balancer, the VPN attachment): operators lose access until the update completes",
		"the customer's network in AWS is deleted: operators lose access to the customer"},
	"AWS::EC2::VPNConnection": {"VPN connection", "vpn",
		"the VPN tunnels go down; the new connection has new tunnel addresses the customer must configure",
		"the VPN tunnels go down"},
	"AWS::EC2::CustomerGateway": {"customer gateway", "cgw",
		"the VPN tunnels go down (its VPN connection is recreated with new tunnel addresses)",
		"the VPN tunnels through it go down"},
	"AWS::EC2::VPNGateway": {"virtual private gateway", "vgw",
		"the VPN tunnels go down",
		"the VPN tunnels go down"},
	"AWS::EC2::VPCPeeringConnection": {"VPC peering", "hub-peering",
		"operators lose the route to the customer VPC until the new peering is active",
		"operators lose the route to the customer VPC"},
	"AWS::EC2::ClientVpnEndpoint": {"Client VPN endpoint", "client-vpn",
		"every operator's VPN session drops and everyone needs a new VPN profile",
		"operators can no longer connect to the hub"},
	"AWS::Route53::HostedZone": {"private hosted zone", "",
		"its names stop resolving in the hub until the new zone and its records are in place",
		"its names stop resolving in the hub"},
	// What a subnet's loss does depends on what is in it: subnetConsequence.
	subnetType: {noun: "subnet"},
}

// stackDeletion says what apply does with a stack the change removes: it
// deletes it, with the same consent a destructive change set takes.
func stackDeletion(owner, stack string, resources int) StackDeletion {
	return StackDeletion{
		Owner: owner, Stack: stack, Resources: resources,
		Message: fmt.Sprintf("%s: stack %s will be DELETED with its %d resources by vsoc-compile apply --execute --allow-destroy, before the other stacks are applied; without --allow-destroy apply refuses and keeps it",
			owner, stack, resources),
	}
}

// consequence says what a destructive change does, terraform-plan style:
// "wacker: customer gateway wacker-edge will be REPLACED (BgpAsn) — the VPN
// tunnels go down".
func consequence(owner, stack string, r ResourceChange) Consequence {
	im, ok := impacts[r.Type]
	if !ok {
		im = impact{noun: r.Type, replaced: "the network through it is interrupted", removed: "the network through it is interrupted"}
	}
	var what, why string
	switch {
	case r.Action == spec.Remove.String():
		what, why = "will be DESTROYED", im.removed
	case r.Conditional:
		what, why = "may be REPLACED", im.replaced
	default:
		what, why = "will be REPLACED", im.replaced
	}
	if r.Type == subnetType {
		why = subnetConsequence(owner, r)
	}
	if len(r.Replacing) > 0 {
		what += " (" + strings.Join(r.Replacing, ", ") + ")"
	}
	noun := im.noun
	if s := subject(stack, im.tag, r); s != "" {
		noun += " " + s
	}
	return Consequence{
		Owner: owner, Stack: stack, LogicalID: r.LogicalID, Type: r.Type, Name: r.Name,
		Action: r.Action, Replacing: r.Replacing, Conditional: r.Conditional,
		Message: fmt.Sprintf("%s: %s %s — %s", owner, noun, what, why),
	}
}

// subject names the resource in a message by the part of its Name tag that
// is not the stack's or the role's: "wacker-edge" for the customer gateway
// "vsoc-customer-wacker-cgw-wacker-edge", nothing for the one VPC of a stack.
// A resource without a Name tag is named by its logical ID.
func subject(stack, tag string, r ResourceChange) string {
	if r.Name == "" {
		return r.LogicalID
	}
	name := strings.TrimPrefix(r.Name, stack+"-")
	if tag == "" {
		return name
	}
	if name == tag {
		return ""
	}
	return strings.TrimPrefix(name, tag+"-")
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare[string])
	return keys
}

func union[M ~map[string]V, V any](a, b M) M {
	out := make(M, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
