package vsoc.rules.vsoc004_test

import data.vsoc.fixtures as fx
import data.vsoc.rules.vsoc004

test_hub_zones_by_default if {
	count(vsoc004.violation) == 0 with input as fx.customer_input({})
	count(vsoc004.violation) == 0 with input as fx.hub_input({})
}

test_count if {
	fx.paths(vsoc004.violation) == {["vpc", "availabilityZones"]} with input as fx.customer_input({"vpc": {"availabilityZones": ["eu-central-1a"]}})
	fx.paths(vsoc004.violation) == {["availabilityZones"]} with input as fx.hub_input({"availabilityZones": ["eu-central-1a", "eu-central-1b", "eu-central-1c", "eu-central-1d"]})
}

test_region_and_duplicates if {
	fx.paths(vsoc004.violation) == {["vpc", "availabilityZones", 1], ["vpc", "availabilityZones", 2]} with input as fx.customer_input({"vpc": {"availabilityZones": ["eu-central-1a", "eu-west-1a", "eu-central-1a"]}})
	fx.paths(vsoc004.violation) == {["vpc", "availabilityZones", 1]} with input as fx.customer_input({"vpc": {"availabilityZones": ["eu-central-1a", "eu-central-1"]}})
}

test_hub_region if {
	fx.paths(vsoc004.violation) == {["region"]} with input as fx.hub_input({"region": "frankfurt", "availabilityZones": ["frankfurta", "frankfurtb"]})
}
