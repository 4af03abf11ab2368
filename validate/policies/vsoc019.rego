# METADATA
# title: names the VSOC or Kubernetes keep for themselves are not declared
# description: |-
#   Some names are taken before any customer is declared. The hub's cluster has the
#   folder kube/clusters/hub and the label vsoc.io/customer=hub, so no customer may
#   be named hub. A customer's file is named after it, and schema.cue is the
#   vendored copy of the schema (which vsoc-compile schema rewrites), so no
#   customer may be named schema. Every customer domain has the record proxy.<domain> for the
#   customer's proxy, so no published service may be named proxy. The namespaces
#   default and kube-* (kube-system, kube-public, kube-node-lease) are Kubernetes'
#   own: vsoc fences every namespace it manages with a default-deny NetworkPolicy,
#   which in kube-system would cut the cluster's pods off from CoreDNS; the same
#   holds for the hub's shared services, each a namespace of the hub cluster. The
#   proxy's network area (vsoc-proxy, or the area the customer declares the
#   vsoc-proxy namespace in) is the proxy's alone: traffic within an area is
#   allowed, so a namespace sharing it would reach the proxy's listener ports and
#   through them the customer's remote subnets, a door kept for the operators.
#   For the same reason the proxy's namespace is not the monitoring namespace,
#   whose pods may reach every pod of the cluster.
# custom:
#   hint: choose another name; hub, schema, proxy, default, kube-* and the proxy's area are taken
package vsoc.rules.vsoc019

# The hub cluster's folder and customer label (render/kube's HubCluster).
hub_cluster := "hub"

# The vendored schema's file is schema.cue (compiler.SchemaFile), and a
# customer's file is named after the customer.
schema_file_customer := "schema"

# The name of the record every customer domain has for its proxy (render/dns).
proxy_record := "proxy"

# Where services are published (the schema requires a domain; the default
# keeps a fleet built without one from hiding a violation).
default first_domain := "<domain>"

first_domain := input.customer.dns.domains[0]

# The proxy's network area: the one its namespace is declared in, else an area
# of its own (render/kube's proxyArea).
default proxy_area := "vsoc-proxy"

proxy_area := input.customer.cluster.namespaces[input.facts.proxyNamespace].area

violation contains v if {
	input.customer.name == hub_cluster
	v := {
		"path": [],
		"message": "customer name hub is taken by the hub's cluster (kube/clusters/hub, vsoc.io/customer=hub)",
		"hint": "choose another name for the customer, and declare it in a file of that name (hub.cue is the hub's)",
	}
}

violation contains v if {
	input.customer.name == schema_file_customer
	v := {
		"path": [],
		"message": "customer name schema is taken by the vendored schema's file (schema.cue), which vsoc-compile schema rewrites",
		"hint": "choose another name for the customer, and declare it in a file of that name (schema.cue is the vendored schema's)",
	}
}

violation contains v if {
	some name, _ in input.customer.services
	name == proxy_record
	v := {
		"path": ["services", name],
		"message": sprintf("service name proxy is taken by the customer's proxy record (proxy.%s)", [first_domain]),
		"hint": "name the service after what it is (e.g. grafana): proxy.<domain> always points at the customer's proxy",
	}
}

violation contains v if {
	some name, _ in input.customer.cluster.namespaces
	kubernetes_namespace(name)
	v := {
		"path": ["cluster", "namespaces", name],
		"message": sprintf("namespace %s is Kubernetes' own: vsoc would fence it with a default-deny NetworkPolicy", [name]),
		"hint": "declare only the customer's own namespaces: default and kube-* are left as Kubernetes configures them",
	}
}

violation contains v if {
	some name, ns in input.customer.cluster.namespaces
	name != input.facts.proxyNamespace
	ns.area == proxy_area
	v := {
		"path": ["cluster", "namespaces", name, "area"],
		"message": sprintf("namespace %s: area %s is kept for the proxy, whose listener ports lead into the customer's networks", [name, ns.area]),
		"hint": sprintf("put namespace %s in another area: the proxy's listener ports are for the operators only, and an area allows all traffic within it", [name]),
	}
}

violation contains v if {
	input.customer.cluster.monitoringNamespace == input.facts.proxyNamespace
	v := {
		"path": ["cluster", "monitoringNamespace"],
		"message": sprintf("monitoringNamespace %s is the proxy's namespace: its pods would be allowed to reach every pod of the cluster, to scrape them", [input.facts.proxyNamespace]),
		"hint": "name the namespace the customer's monitoring runs in (monitoring by default): the proxy's egress is for the customer's networks only",
	}
}

violation contains v if {
	input.scope == "hub"
	some name, _ in input.hub.sharedServices
	kubernetes_namespace(name)
	v := {
		"path": ["sharedServices", name],
		"message": sprintf("shared service name %s is a Kubernetes namespace of the hub cluster: vsoc would fence it with a default-deny NetworkPolicy", [name]),
		"hint": "name the shared service after what it is (e.g. support): default and kube-* are Kubernetes' own namespaces",
	}
}

# Kubernetes creates default, kube-system, kube-public and kube-node-lease, and
# keeps the kube- prefix for itself.
kubernetes_namespace(name) if name == "default"

kubernetes_namespace(name) if startswith(name, "kube-")
