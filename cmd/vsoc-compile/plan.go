package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/validate"
)

func newPlanCmd() *cobra.Command {
	var flags loadFlags
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Validate and print the plan: customers, CIDRs, allocated subnets and proxy IPs",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fleet, err := loadFleet(cmd, cmd.OutOrStdout(), dirArg(args), "text", &flags)
			if err != nil {
				return err
			}
			v, err := validate.New(cmd.Context())
			if err != nil {
				return exitError{code: 2, err: err}
			}
			vs, err := v.Validate(cmd.Context(), fleet)
			if err != nil {
				return exitError{code: 2, err: err}
			}
			if len(vs) > 0 {
				if err := validate.WriteReport(cmd.OutOrStdout(), "text", vs); err != nil {
					return exitError{code: 2, err: err}
				}
				return findings()
			}
			plan, err := compiler.NewPlan(fleet)
			if err != nil {
				return exitError{code: 2, err: err}
			}
			return writePlan(cmd.OutOrStdout(), plan)
		},
	}
	flags.register(cmd)
	return cmd
}

func writePlan(w io.Writer, p *compiler.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	h := p.Hub
	fmt.Fprintf(tw, "hub\t%s\tclient pool %s\tregion %s\tdomain %s\n", h.CIDR, h.ClientCIDR, h.Hub.Region, h.Hub.Domain)
	for _, s := range h.Subnets {
		fmt.Fprintf(tw, "\tsubnet %s\t%s\n", s.AvailabilityZone, s.CIDR)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "CUSTOMER\tVPC\tSUBNETS\tPROXY IPs\tRESOLVER IPs\tREMOTE SUBNETS\tLISTENERS\n")
	for _, c := range p.Customers {
		subnets := make([]string, len(c.Subnets))
		for i, s := range c.Subnets {
			subnets[i] = s.CIDR.String()
		}
		listeners := make([]string, len(c.Listeners))
		for i, l := range c.Listeners {
			listeners[i] = fmt.Sprintf("%d/%s", l.Port, l.Protocol)
			if l.StaticOnly {
				listeners[i] += "(static)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Customer.Name,
			joinPrefixes(c.CIDRs), strings.Join(subnets, ","), joinAddrs(c.ProxyIPs),
			orDash(joinAddrs(c.ResolverIPs)), joinPrefixes(c.RemoteSubnets), strings.Join(listeners, ","))
	}
	return tw.Flush()
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
