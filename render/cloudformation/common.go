package cloudformation

import (
	"fmt"
	"net/netip"
	"slices"
)

// recordTTL is the TTL of every published record, in seconds (a string: so the spec types it).
const recordTTL = "300"

// addLogGroup adds an audit log group. It is retained when the stack deletes or replaces it:
// the audit trail must outlive the network it describes.
func addLogGroup(t *template, id, owner, name, logGroupName string, retentionDays int) {
	t.addResource(id, resource{
		Type:                "AWS::Logs::LogGroup",
		DeletionPolicy:      "Retain",
		UpdateReplacePolicy: "Retain",
		Properties: props{
			"LogGroupName":    logGroupName,
			"RetentionInDays": retentionDays,
			"Tags":            tags(owner, name),
		},
	})
}

// addFlowLogs records all traffic of a VPC into its own log group.
func addFlowLogs(t *template, owner, name, logGroupName string, retentionDays int, vpcID, roleArn any) {
	addLogGroup(t, "FlowLogGroup", owner, name, logGroupName, retentionDays)
	t.add("FlowLog", "AWS::EC2::FlowLog", props{
		"DeliverLogsPermissionArn": roleArn,
		"LogDestinationType":       "cloud-watch-logs",
		"LogGroupName":             ref("FlowLogGroup"),
		"ResourceId":               vpcID,
		"ResourceType":             "VPC",
		"Tags":                     tags(owner, name),
		"TrafficType":              "ALL",
	})
}

// addARecord publishes fqdn → addresses (IPv4) in a hosted zone.
func addARecord(t *template, id string, zoneID any, fqdn string, addresses []string) {
	records := make([]any, 0, len(addresses))
	for _, a := range addresses {
		addr, err := netip.ParseAddr(a)
		if err != nil || !addr.Is4() {
			if t.err == nil {
				t.err = fmt.Errorf("record %s: %q is not an IPv4 address", fqdn, a)
			}
			return
		}
		records = append(records, addr.String())
	}
	addRecord(t, id, zoneID, fqdn, records)
}

func addRecord(t *template, id string, zoneID any, fqdn string, records []any) {
	t.add(id, "AWS::Route53::RecordSet", props{
		"HostedZoneId":    zoneID,
		"Name":            fqdn + ".",
		"ResourceRecords": records,
		"TTL":             recordTTL,
		"Type":            "A",
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
