package vsoc.rules.vsoc019_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc019

test_names_of_their_own if {
	count(vsoc019.violation) == 0 with input as fx.customer_input({"services": {"proxies": {"addresses": ["100.68.1.1"]}}, "cluster": {"namespaces": {"kubeflow": {"area": "ml"}, "defaults": {"area": "x"}}}})
	count(vsoc019.violation) == 0 with input as fx.customer_input({"name": "hubble"})
	count(vsoc019.violation) == 0 with input as fx.customer_input({"name": "schemas"})
	count(vsoc019.violation) == 0 with input as fx.hub_input({})
}

test_customer_named_hub if {
	vs := vsoc019.violation with input as fx.customer_input({"name": "hub"})
	fx.paths(vs) == {[]}
	some v in vs
	contains(v.message, "kube/clusters/hub")
}

test_customer_named_schema if {
	vs := vsoc019.violation with input as fx.customer_input({"name": "schema"})
	fx.paths(vs) == {[]}
	some v in vs
	contains(v.message, "schema.cue")
}

test_service_named_proxy if {
	vs := vsoc019.violation with input as fx.customer_input({"services": {"proxy": {"addresses": ["100.68.1.1"]}}})
	fx.paths(vs) == {["services", "proxy"]}
	some v in vs
	contains(v.message, "proxy.acme.example")
}

test_kubernetes_namespaces if {
	every name in ["kube-system", "kube-public", "kube-node-lease", "default", "kube-flannel"] {
		fx.paths(vsoc019.violation) == {["cluster", "namespaces", name]} with input as fx.customer_input({"cluster": {"namespaces": {name: {"area": "tools"}}}})
		fx.paths(vsoc019.violation) == {["sharedServices", name]} with input as fx.hub_input({"sharedServices": {name: {"addresses": ["100.65.1.1"]}}})
	}
}

test_namespace_in_the_proxy_area if {
	vs := vsoc019.violation with input as fx.customer_input({"cluster": {"namespaces": {"foo": {"area": "vsoc-proxy"}}}})
	fx.paths(vs) == {["cluster", "namespaces", "foo", "area"]}
	some v in vs
	contains(v.message, "kept for the proxy")
}

test_namespace_in_the_area_declared_for_the_proxy if {
	declared := {"vsoc-proxy": {"area": "edge"}, "ingress": {"area": "edge"}, "tools": {"area": "vsoc-proxy"}}
	fx.paths(vsoc019.violation) == {["cluster", "namespaces", "ingress", "area"]} with input as fx.customer_input({"cluster": {"namespaces": declared}})
}

test_proxy_namespace_in_its_own_area if {
	count(vsoc019.violation) == 0 with input as fx.customer_input({"cluster": {"namespaces": {"vsoc-proxy": {"area": "vsoc-proxy"}}}})
	count(vsoc019.violation) == 0 with input as fx.customer_input({"cluster": {"namespaces": {"vsoc-proxy": {"area": "edge"}, "mla": {"area": "observability"}}}})
}

test_proxy_namespace_is_not_the_monitoring_namespace if {
	vs := vsoc019.violation with input as fx.customer_input({"cluster": {"monitoringNamespace": "vsoc-proxy"}})
	fx.paths(vs) == {["cluster", "monitoringNamespace"]}
	count(vsoc019.violation) == 0 with input as fx.customer_input({"cluster": {"monitoringNamespace": "observability"}})
}
