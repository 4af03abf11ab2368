# METADATA
# title: 2 or 3 availability zones in the hub's region
# description: |-
#   Every VPC spreads its private subnets, the proxy's load balancer and the resolver
#   endpoint over two or three availability zones: one zone is no redundancy, and the
#   compiler carves at most three private subnets (quarters) from the primary block.
#   The zones are those of the hub's region (the hub peers only within its region),
#   written as the region followed by a letter (eu-central-1a), each once. A customer
#   without availabilityZones uses the hub's.
# custom:
#   hint: list 2 or 3 distinct zones of the hub's region, e.g. ["eu-central-1a", "eu-central-1b"]
package vsoc.rules.vsoc004

import data.vsoc.lib

violation contains v if {
	zones := object.get(input.customer.vpc, "availabilityZones", [])
	count(zones) > 0
	some v in problems(zones, input.hub.region, ["vpc", "availabilityZones"])
}

violation contains v if {
	input.scope == "hub"
	some v in problems(input.hub.availabilityZones, input.hub.region, ["availabilityZones"])
}

violation contains v if {
	input.scope == "hub"
	not regex.match(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`, input.hub.region)
	v := {
		"path": ["region"],
		"message": sprintf("region %s is not an AWS region name", [input.hub.region]),
		"hint": "write the region's code, e.g. eu-central-1",
	}
}

problems(zones, region, path) := ({v |
	n := count(zones)
	not in_range(n, 2, 3)
	v := {"path": path, "message": sprintf("availabilityZones lists %d (%s): a VPC uses 2 or 3 zones", [n, concat(", ", zones)])}
} | {v |
	some i, z in zones
	not in_region(z, region)
	v := {"path": array.concat(path, [i]), "message": sprintf("availability zone %s is not in the hub's region %s", [z, region])}
}) | {v |
	some i, _ in lib.repeats(zones)
	z := zones[i]
	v := {"path": array.concat(path, [i]), "message": sprintf("availability zone %s is listed twice", [z])}
}

in_region(zone, region) if {
	startswith(zone, region)
	regex.match(`^[a-z]$`, substring(zone, count(region), -1))
}

in_range(x, lo, hi) if {
	x >= lo
	x <= hi
}
