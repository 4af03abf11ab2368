// Package extract defines the on-disk format of the compact CloudFormation resource
// specification extract. The generator writes it and the spec package reads it; keeping the
// format in one place means the two can never disagree about a field name.
package extract

// File is the whole extract: the resource types of the selected namespaces, and where they came from.
type File struct {
	// Source names the npm package and the exact version the extract was taken from.
	Source string `json:"source"`
	// Integrity is the npm lockfile integrity hash of that package, so a regenerated extract can be
	// traced to the same bytes.
	Integrity string `json:"integrity"`
	// Namespaces are the CloudFormation namespaces (e.g. "AWS::EC2") included, sorted.
	Namespaces []string `json:"namespaces"`
	// Resources is keyed by CloudFormation type name (e.g. "AWS::EC2::VPC").
	Resources map[string]Resource `json:"resources"`
}

// Resource is one CloudFormation resource type.
type Resource struct {
	Properties map[string]Property `json:"properties"`
	// Attributes are the names Fn::GetAtt accepts, with their value types.
	Attributes map[string]Type `json:"attributes,omitempty"`
	// Types are the nested property types this resource uses, keyed by their name; a Type of
	// kind "ref" names one of them. Names are scoped to the resource (as in the CloudFormation
	// spec, where they are written "AWS::EC2::VPNConnection.VpnTunnelOptionsSpecification").
	Types map[string]map[string]Property `json:"types,omitempty"`
}

// Replacement values: what updating a property does to its resource.
const (
	ReplaceNo          = ""            // updated in place (the spec's default, so omitted)
	ReplaceYes         = "yes"         // the resource is replaced
	ReplaceConditional = "conditional" // replaced under some conditions only (the spec's "maybe")
)

// Property is one property of a resource or of a nested property type.
type Property struct {
	Type     Type `json:"type"`
	Required bool `json:"required,omitempty"`
	// Replacement is ReplaceNo, ReplaceYes or ReplaceConditional.
	Replacement string `json:"replacement,omitempty"`
}

// Kinds of Type.
const (
	KindString  = "string"
	KindInteger = "integer"
	KindNumber  = "number"
	KindBoolean = "boolean"
	KindJSON    = "json"  // any JSON value (policy documents and the like)
	KindTag     = "tag"   // a {"Key": string, "Value": string} object
	KindList    = "list"  // Elem holds the element type
	KindMap     = "map"   // string keys, Elem holds the value type
	KindRef     = "ref"   // Ref names a nested type of the same resource
	KindUnion   = "union" // any of Union
)

// Type is a property's value type.
type Type struct {
	Kind  string `json:"kind"`
	Elem  *Type  `json:"elem,omitempty"`
	Ref   string `json:"ref,omitempty"`
	Union []Type `json:"union,omitempty"`
	// Allowed lists the accepted literal values of a string or integer (in decimal), when the
	// spec restricts them.
	Allowed []string `json:"allowed,omitempty"`
}
