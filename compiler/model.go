// Package compiler loads a customers repository into a typed model, keeps the
// source position of every value, and derives the deterministic plan
// (subnets, proxy addresses, names) every renderer works from.
package compiler

// The model mirrors schema/vsoc.cue after CUE has applied the defaults; the
// JSON names are the CUE field names, so the same document is the input of
// the rego policies.

// Fleet is a whole customers repository.
type Fleet struct {
	// Dir is the repository folder the files were read from.
	Dir       string      `json:"-"`
	Hub       *Hub        `json:"hub"`
	Customers []*Customer `json:"customers"` // sorted by name
	// Positions maps a value's path to where it was written.
	Positions *Positions `json:"-"`
}

// Hub is the DMZ VPC.
type Hub struct {
	Region            string             `json:"region"`
	CIDR              string             `json:"cidr"`
	AvailabilityZones []string           `json:"availabilityZones"`
	Domain            string             `json:"domain"`
	ClientVPN         ClientVPN          `json:"clientVPN"`
	SharedServices    map[string]Service `json:"sharedServices"`
	LogRetentionDays  int                `json:"logRetentionDays"`
	// File is the file the hub was declared in, relative to Fleet.Dir.
	File string `json:"file"`
}

// ClientVPN is the operators' AWS Client VPN endpoint.
type ClientVPN struct {
	ClientCIDR           string `json:"clientCIDR"`
	SAMLProviderARN      string `json:"samlProviderARN"`
	ServerCertificateARN string `json:"serverCertificateARN"`
	ConnectionLogging    bool   `json:"connectionLogging"`
	SplitTunnel          bool   `json:"splitTunnel"`
	TransportProtocol    string `json:"transportProtocol"`
	VPNPort              int    `json:"vpnPort"`
	SessionTimeoutHours  int    `json:"sessionTimeoutHours"`
}

// Service is a DNS record published for operators.
type Service struct {
	Addresses []string `json:"addresses"`
}

// Customer is one customer file.
type Customer struct {
	Name        string             `json:"name"`
	DisplayName string             `json:"displayName,omitempty"`
	VPC         VPC                `json:"vpc"`
	VPN         VPN                `json:"vpn"`
	DNS         DNS                `json:"dns"`
	KKP         KKP                `json:"kkp"`
	Proxy       Proxy              `json:"proxy"`
	Services    map[string]Service `json:"services"`
	Access      Access             `json:"access"`
	Cluster     Cluster            `json:"cluster"`
	// File is the file the customer was declared in, relative to Fleet.Dir.
	File string `json:"file"`
}

// VPC is a customer VPC.
type VPC struct {
	CIDRs []string `json:"cidrs"`
	// AvailabilityZones as written; empty means the hub's zones.
	AvailabilityZones []string `json:"availabilityZones,omitempty"`
	NATEgress         bool     `json:"natEgress"`
	LogRetentionDays  int      `json:"logRetentionDays"`
}

// VPN is the customer's Site-to-Site VPN.
type VPN struct {
	Routing       string            `json:"routing"` // "static" or "bgp"
	AmazonSideASN int64             `json:"amazonSideASN"`
	Gateways      []CustomerGateway `json:"gateways"`
	RemoteSubnets []string          `json:"remoteSubnets"`
	Tunnel        TunnelOptions     `json:"tunnel"`
	PreSharedKey  *PreSharedKey     `json:"preSharedKey,omitempty"`
}

// CustomerGateway is the customer's VPN device.
type CustomerGateway struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	ASN     int64  `json:"asn"`
}

// TunnelOptions are the IKE/IPsec parameters of every tunnel.
type TunnelOptions struct {
	IKEVersions      []string `json:"ikeVersions"`
	Phase1           Phase    `json:"phase1"`
	Phase2           Phase    `json:"phase2"`
	DPDTimeoutAction string   `json:"dpdTimeoutAction"`
	StartupAction    string   `json:"startupAction"`
}

// Phase is one IKE phase's proposals.
type Phase struct {
	Encryption      []string `json:"encryption"`
	Integrity       []string `json:"integrity"`
	DHGroups        []int    `json:"dhGroups"`
	LifetimeSeconds int      `json:"lifetimeSeconds"`
}

// PreSharedKey is either a Secrets Manager reference or, wrongly, a literal;
// the literal is kept only so that the policy can refuse it.
type PreSharedKey struct {
	SecretsManager string `json:"secretsManager,omitempty"`
	Literal        bool   `json:"literal,omitempty"`
}

// DNS is how the customer's names resolve.
type DNS struct {
	Domains   []string `json:"domains"`
	Resolvers []string `json:"resolvers"`
	Mode      string   `json:"mode"` // "route53-resolver" or "coredns"
}

// KKP is the customer's Kubermatic Kubernetes Platform.
type KKP struct {
	ExposeStrategy string       `json:"exposeStrategy"`
	Endpoints      KKPEndpoints `json:"endpoints"`
}

// KKPEndpoints are the names operators use for KKP.
type KKPEndpoints struct {
	UI  string `json:"ui,omitempty"`
	API string `json:"api,omitempty"`
}

// Proxy is the customer's vsoc-sniproxy.
type Proxy struct {
	Ports    []int           `json:"ports"`
	Allow    []string        `json:"allow"`
	Static   []StaticMapping `json:"static"`
	Replicas int             `json:"replicas"`
}

// StaticMapping overrides dynamic routing for one host on one port.
type StaticMapping struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"` // "tls", "http" or "tcp"
	Target   Target `json:"target"`
}

// Target is a fixed upstream.
type Target struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
}

// Access lists who may reach the customer.
type Access struct {
	SSOGroups []string `json:"ssoGroups"`
}

// Cluster is the customer cluster's namespaces and their contracts.
type Cluster struct {
	MonitoringNamespace string               `json:"monitoringNamespace"`
	Namespaces          map[string]Namespace `json:"namespaces"`
	Contracts           []Contract           `json:"contracts"`
}

// Namespace is a managed namespace.
type Namespace struct {
	Area string `json:"area"`
}

// Contract allows traffic beyond the defaults.
type Contract struct {
	From  ContractPeer   `json:"from"`
	To    ContractTarget `json:"to"`
	Ports []ContractPort `json:"ports"`
}

// ContractPeer selects a namespace or every namespace of an area.
type ContractPeer struct {
	Namespace string `json:"namespace,omitempty"`
	Area      string `json:"area,omitempty"`
}

// ContractTarget selects pods of a namespace.
type ContractTarget struct {
	Namespace string            `json:"namespace"`
	PodLabels map[string]string `json:"podLabels,omitempty"`
}

// ContractPort is one allowed port.
type ContractPort struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
}
