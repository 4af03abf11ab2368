package cloudformation

import (
	"slices"
)

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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
