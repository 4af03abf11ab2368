package cloudformation

// The hub's exports, which customer stacks import. Export names are literal (the stack name
// plus a suffix) so that spec.Check can match every import to its export.

func exportVpcID(hubStack string) string               { return hubStack + "-VpcId" }
func exportClientVpnEndpointID(hubStack string) string { return hubStack + "-ClientVpnEndpointId" }
func exportFlowLogsRoleArn(hubStack string) string     { return hubStack + "-FlowLogsRoleArn" }

// exportRouteTableID and exportSubnetID name the per-zone private route table and subnet.
func exportRouteTableID(hubStack, zone string) string { return hubStack + "-PrivateRouteTable-" + zone }
func exportSubnetID(hubStack, zone string) string     { return hubStack + "-PrivateSubnet-" + zone }

// sharedAddressSpace is where every vsoc VPC lives (RFC 6598 shared address space): the hub's
// Client VPN security group may send to it without knowing the customers.
const sharedAddressSpace = "100.64.0.0/10"
