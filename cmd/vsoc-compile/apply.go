package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/vsoc/vsoc/apply"
	cfnapply "github.com/vsoc/vsoc/apply/cloudformation"
)

func newApplyCmd() *cobra.Command {
	var (
		opts      apply.Options
		auditFile string
		flags     loadFlags
	)
	cmd := &cobra.Command{
		Use:   "apply [DIR]",
		Short: "Apply a build output: CloudFormation change sets, and Kubernetes manifests with --kubeconfig",
		Long: `apply brings AWS (and, with --kubeconfig, the clusters) to what OUT (default out/,
written by vsoc-compile build from DIR, default customers/) describes.

For each stack, hub first and then the customers a few at a time, it creates a
CloudFormation change set, waits for it, prints it, and deletes it again unless
--execute is given: without --execute nothing changes. Customers that stop
importing an export the hub deletes or changes are updated before the hub,
which CloudFormation would not let drop the export while they import it. A
change set that replaces or removes a protected resource (VPC, subnet, VPN
connection, customer or VPN gateway, peering, hosted zone, Client VPN
endpoint) is refused unless
--allow-destroy is given. A stack without the tags vsoc:managed-by=vsoc and
vsoc:customer=<name> is never touched. Created stacks get a stack policy that
denies replacing or deleting those resources, and termination protection.

The stack of a customer no longer declared (tagged vsoc:managed-by=vsoc and
vsoc:customer=<name>, named vsoc-customer-<name>, not in OUT) is deleted before
the other stacks are applied, with --execute --allow-destroy only: its
termination protection is lifted, and the run waits for DELETE_COMPLETE. Without
--allow-destroy the deletion is refused (and so is the run); a dry run deletes
nothing. A deletion that fails (DELETE_FAILED) is reported with the service's
reason, and the stack is protected again. --only deletes nothing.

AWS credentials come from the standard chain (environment, profile, SSO, web
identity such as GitHub OIDC); the region is the hub's. An interrupted run
leaves nothing the next run cannot pick up.

With --kubeconfig, each cluster folder OUT/kube/clusters/<name> is server-side
applied (field manager vsoc) to the kubeconfig context <name> or vsoc-<name>,
and objects labelled app.kubernetes.io/managed-by=vsoc and
vsoc.io/customer=<name> that are no longer rendered are pruned; without
--execute this is a server-side dry run. A cluster without such a context is
skipped (listed under skippedClusters); a kubeconfig that cannot be read, or
that has a context for none of the clusters, stops the run before AWS is
touched.

The audit record of the run (caller identity, git commit, stacks, change sets,
decisions, outcome) is printed as JSON on stdout and written to --audit-file;
progress goes to stderr. Exit status: 0 applied (or previewed), 1 refused,
failed or interrupted, 2 usage or internal error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// pflag reads an empty --only (--only "", as an unset CI variable gives) as no names,
			// which apply.Options takes for "everything": the run meant for a few customers would
			// apply every stack, and delete the stacks of customers no longer declared.
			if cmd.Flags().Changed("only") && len(opts.Only) == 0 {
				return exitError{code: 2, err: errors.New(`--only "" names no customer: give customer names (or "hub"), or leave out --only to apply everything`)}
			}
			// The driver takes a zero or negative value for its default, which would ignore the
			// flag without a word.
			if opts.Parallelism < 1 {
				return exitError{code: 2, err: fmt.Errorf("--parallel %d: apply at least 1 customer stack at once", opts.Parallelism)}
			}
			if opts.PollInterval <= 0 {
				return exitError{code: 2, err: fmt.Errorf("--poll-interval %s: give a positive duration, e.g. 5s", opts.PollInterval)}
			}
			if auditFile != "" {
				if err := apply.CheckRecordFile(auditFile); err != nil {
					return exitError{code: 2, err: err}
				}
			}
			ctx := cmd.Context()
			dir := dirArg(args)
			// stdout carries the audit record alone, for tools that parse it.
			fleet, err := loadFleet(cmd, cmd.ErrOrStderr(), dir, "text", &flags)
			if err != nil {
				return err
			}
			if fleet.Hub == nil || fleet.Hub.Region == "" {
				return exitError{code: 2, err: fmt.Errorf("%s declares no hub region; apply takes the AWS region from the hub", dir)}
			}
			opts.AWS, err = config.LoadDefaultConfig(ctx,
				config.WithRegion(fleet.Hub.Region),
				config.WithRetryer(cfnapply.Retryer(12, 20*time.Second)))
			if err != nil {
				return exitError{code: 2, err: fmt.Errorf("loading the AWS configuration: %w", err)}
			}
			opts.CustomersDir = dir
			opts.Progress = cmd.ErrOrStderr()
			rec, err := apply.Run(ctx, opts)
			if err != nil {
				return exitError{code: 2, err: err}
			}
			if err := apply.WriteRecord(cmd.OutOrStdout(), auditFile, rec); err != nil {
				return exitError{code: 2, err: err}
			}
			if !rec.Outcome.OK() {
				return exitError{code: 1, err: fmt.Errorf("apply %s: see the stacks and clusters in the audit record", rec.Outcome)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Out, "out", "o", "out", "the build output to apply")
	f.BoolVar(&opts.Execute, "execute", false, "execute the change sets and apply the manifests (default: dry run)")
	f.BoolVar(&opts.AllowDestroy, "allow-destroy", false, "accept change sets that replace or remove protected resources, and delete the stacks of customers no longer declared")
	f.StringSliceVar(&opts.Only, "only", nil, `apply only these customers ("hub" for the hub); repeatable or comma-separated`)
	f.StringVar(&opts.EndpointURL, "endpoint-url", "", "CloudFormation and STS endpoint URL (local endpoints, tests)")
	f.StringVar(&auditFile, "audit-file", "", "also write the audit record to this file")
	f.StringVar(&opts.Kubeconfig, "kubeconfig", "", "apply OUT/kube too, each cluster to the context of its name")
	f.IntVar(&opts.Parallelism, "parallel", 4, "customer stacks applied at once")
	f.DurationVar(&opts.PollInterval, "poll-interval", 5*time.Second, "how often CloudFormation is polled")
	flags.register(cmd)
	return cmd
}
