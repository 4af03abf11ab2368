package kube

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vsoc/vsoc/compiler"
)

// Labels and names shared by every object.
const (
	managedByLabel = "app.kubernetes.io/managed-by"
	managedBy      = "vsoc"
	// customerLabel names the cluster an object belongs to ("hub" or the
	// customer); apply prunes by it.
	customerLabel = "vsoc.io/customer"
	// areaLabel puts a namespace in a network area (seed 004).
	areaLabel = "vsoc.io/network-area"
	// namespaceNameLabel is set by the API server on every namespace.
	namespaceNameLabel = "kubernetes.io/metadata.name"
	appNameLabel       = "app.kubernetes.io/name"
	partOfLabel        = "app.kubernetes.io/part-of"

	appName       = "vsoc-sniproxy"
	configMapName = "vsoc-sniproxy-config"
	configDir     = "/etc/vsoc-sniproxy"
	configFile    = "config.yaml"
	adminPortName = "admin"
	// Image is the proxy image the base deploys; an overlay of the
	// operator's own can pin another with kustomize's `images` field.
	Image = "ghcr.io/vsoc/vsoc-sniproxy:0.1.0"
	// nonRootID is the distroless "nonroot" user the image runs as.
	nonRootID = 65532
	// zoneKey spreads the proxy replicas across availability zones.
	zoneKey = "topology.kubernetes.io/zone"
	// proxyMemoryLimitMiB is the proxy container's memory limit. The Go runtime is asked to keep
	// within three quarters of it (GOMEMLIMIT): the proxy collects garbage rarely (GOGC 400) and
	// would otherwise grow its heap towards the limit under load, and the rest belongs to the
	// kernel's socket buffers, which are charged to the same cgroup.
	proxyMemoryLimitMiB = 256
)

// proxyNamespaceLabels: pod-security admission only admits pods meeting the
// "restricted" standard, which the proxy's Deployment does; and the AWS Load
// Balancer Controller gives each proxy pod a readiness gate that holds until
// the NLB reports its target healthy, so a rollout never leaves the NLB with
// only new targets that are not serving yet (with target type ip, a pod's own
// readiness says nothing about the NLB).
var proxyNamespaceLabels = map[string]string{
	"pod-security.kubernetes.io/enforce":      "restricted",
	"pod-security.kubernetes.io/warn":         "restricted",
	"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
}

// preStopSeconds is how long a terminating proxy pod keeps serving before it
// gets SIGTERM: the NLB goes on sending new connections to a target for a
// while after the pod leaves the Service's endpoints, until the controller
// has deregistered it, and a proxy that stopped listening would refuse them.
const preStopSeconds = 15

// objectLabels are the labels of every object of a cluster; customer is ""
// for the base, whose objects get it from the overlay's label transformer.
func objectLabels(customer string, extra map[string]string) map[string]string {
	l := map[string]string{managedByLabel: managedBy}
	if customer != "" {
		l[customerLabel] = customer
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

func proxySelector() map[string]string { return map[string]string{appNameLabel: appName} }

func proxyLabels(customer string) map[string]string {
	return objectLabels(customer, map[string]string{appNameLabel: appName, partOfLabel: managedBy})
}

func namespaceObject(name, customer, area string, extra map[string]string) *corev1.Namespace {
	labels := objectLabels(customer, extra)
	labels[areaLabel] = area
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
	}
}

func serviceAccount(customer string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: appName, Namespace: compiler.ProxyNamespace, Labels: proxyLabels(customer)},
		// The proxy never talks to the Kubernetes API.
		AutomountServiceAccountToken: new(false),
	}
}

func podDisruptionBudget(customer string) *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{Name: appName, Namespace: compiler.ProxyNamespace, Labels: proxyLabels(customer)},
		Spec: policyv1.PodDisruptionBudgetSpec{
			// One replica at a time may be drained, whatever the count.
			MaxUnavailable: &one,
			Selector:       &metav1.LabelSelector{MatchLabels: proxySelector()},
		},
	}
}

// baseReplicas is the base Deployment's replica count; overlays set the
// customer's proxy.replicas.
const baseReplicas = 2

// deployment is the proxy Deployment. The base has customer "", the base
// replica count and only the admin port; the overlay's transformers add the
// customer label, the replica count and the listener ports, which is what
// deployment(customer, replicas, listeners) builds directly.
func deployment(customer string, replicas int32, listeners []compiler.Listener) *appsv1.Deployment {
	selector := proxySelector()
	ports := []corev1.ContainerPort{{Name: adminPortName, ContainerPort: compiler.AdminPort, Protocol: corev1.ProtocolTCP}}
	ports = append(ports, containerPorts(listeners)...)
	maxSurge, maxUnavailable := intstr.FromInt32(1), intstr.FromInt32(0)
	adminPort := intstr.FromString(adminPortName)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: appName, Namespace: compiler.ProxyNamespace, Labels: proxyLabels(customer)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			// A new replica is ready before an old one goes, so the NLB
			// always has targets.
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &maxSurge, MaxUnavailable: &maxUnavailable},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: proxyLabels(customer)},
				Spec: corev1.PodSpec{
					ServiceAccountName:           appName,
					AutomountServiceAccountToken: new(false),
					// preStopSeconds of serving, then the proxy drains open
					// connections for up to 30 s on SIGTERM.
					TerminationGracePeriodSeconds: new(int64(preStopSeconds + 30 + 15)),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   new(true),
						RunAsUser:      new(int64(nonRootID)),
						RunAsGroup:     new(int64(nonRootID)),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
						{
							// One zone down leaves the other replicas serving.
							MaxSkew: 1, TopologyKey: zoneKey, WhenUnsatisfiable: corev1.DoNotSchedule,
							LabelSelector: &metav1.LabelSelector{MatchLabels: selector},
						},
						{
							MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway,
							LabelSelector: &metav1.LabelSelector{MatchLabels: selector},
						},
					},
					Containers: []corev1.Container{{
						Name:  appName,
						Image: Image,
						Args:  []string{"--config", configDir + "/" + configFile},
						Ports: ports,
						// The image has no shell: the kubelet sleeps.
						Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: preStopSeconds}}},
						LivenessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: adminPort}},
							PeriodSeconds:    10,
							FailureThreshold: 3,
						},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: adminPort}},
							PeriodSeconds:    5,
							FailureThreshold: 2,
						},
						Env: []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: strconv.Itoa(proxyMemoryLimitMiB*3/4) + "MiB"}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("100m"),
								corev1.ResourceMemory: resource.MustParse("64Mi"),
							},
							Limits: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("1"),
								corev1.ResourceMemory: resource.MustParse(strconv.Itoa(proxyMemoryLimitMiB) + "Mi"),
							},
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: new(false),
							ReadOnlyRootFilesystem:   new(true),
							RunAsNonRoot:             new(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						// The directory, not a subPath: a subPath mount never
						// sees ConfigMap updates, and the proxy reloads on change.
						VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: configDir, ReadOnly: true}},
					}},
					Volumes: []corev1.Volume{{
						Name: "config",
						VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: configMapName},
						}},
					}},
				},
			},
		},
	}
}

func containerPorts(listeners []compiler.Listener) []corev1.ContainerPort {
	ports := make([]corev1.ContainerPort, len(listeners))
	for i, l := range listeners {
		ports[i] = corev1.ContainerPort{Name: l.Name, ContainerPort: int32(l.ContainerPort), Protocol: corev1.ProtocolTCP}
	}
	return ports
}

func configMap(namespace, name, customer string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: objectLabels(customer, nil)},
		Data:       data,
	}
}

// AWS Load Balancer Controller annotations of the proxy Service.
const (
	lbAnnotation = "service.beta.kubernetes.io/aws-load-balancer-"
	// nlbClass hands the Service to the AWS Load Balancer Controller.
	nlbClass = "service.k8s.aws/nlb"
)

// SubnetName is the Name tag of a customer's private subnet in a zone, as
// the CloudFormation stack tags it; the controller accepts Name tags in its
// subnets annotation, whose IDs are unknown at compile time.
func SubnetName(customer, zone string) string {
	return compiler.StackName(customer) + "-private-" + zone
}

// service is the proxy's internal NLB: the compiler's static private IPs (one
// per subnet, in the subnets' order, as the controller requires), IP targets,
// only the listener ports, and the source ranges of the operators.
func service(p *compiler.Plan, c *compiler.CustomerPlan) (*corev1.Service, error) {
	name := c.Customer.Name
	if len(c.ProxyIPs) != len(c.Subnets) {
		return nil, fmt.Errorf("customer %s: the plan has %d proxy IPs for %d subnets (a bug in the plan)", name, len(c.ProxyIPs), len(c.Subnets))
	}
	subnets := make([]string, len(c.Subnets))
	ips := make([]string, len(c.ProxyIPs))
	for i, s := range c.Subnets {
		if !s.CIDR.Contains(c.ProxyIPs[i]) {
			return nil, fmt.Errorf("customer %s: proxy IP %s is outside subnet %s (a bug in the plan)", name, c.ProxyIPs[i], s.CIDR)
		}
		subnets[i] = SubnetName(name, s.AvailabilityZone)
		ips[i] = c.ProxyIPs[i].String()
	}
	ports := make([]corev1.ServicePort, len(c.Listeners))
	for i, l := range c.Listeners {
		ports[i] = corev1.ServicePort{
			Name:       l.Name,
			Port:       int32(l.Port),
			TargetPort: intstr.FromInt32(int32(l.ContainerPort)),
			Protocol:   corev1.ProtocolTCP,
		}
	}
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      appName,
			Namespace: compiler.ProxyNamespace,
			Labels:    proxyLabels(name),
			Annotations: map[string]string{
				lbAnnotation + "type":                                "external",
				lbAnnotation + "scheme":                              "internal",
				lbAnnotation + "nlb-target-type":                     "ip",
				lbAnnotation + "subnets":                             strings.Join(subnets, ","),
				lbAnnotation + "private-ipv4-addresses":              strings.Join(ips, ","),
				lbAnnotation + "ip-address-type":                     "ipv4",
				lbAnnotation + "healthcheck-protocol":                "http",
				lbAnnotation + "healthcheck-port":                    strconv.Itoa(compiler.AdminPort),
				lbAnnotation + "healthcheck-path":                    "/readyz",
				lbAnnotation + "attributes":                          "load_balancing.cross_zone.enabled=true",
				lbAnnotation + "target-group-attributes":             "preserve_client_ip.enabled=true",
				lbAnnotation + "additional-resource-tags":            "vsoc:customer=" + name + ",vsoc:managed-by=" + managedBy,
				lbAnnotation + "manage-backend-security-group-rules": "true",
				// The frontend security group is the stack's (by Name tag): proxy ports from
				// the hub and the Client VPN pool only.
				lbAnnotation + "security-groups": c.ProxySecurityGroupName(),
			},
		},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: new(nlbClass),
			Selector:          proxySelector(),
			Ports:             ports,
			// The controller turns these into the NLB's security group
			// rules: operators only.
			LoadBalancerSourceRanges: []string{p.Hub.CIDR.String(), p.Hub.ClientCIDR.String()},
		},
	}, nil
}
