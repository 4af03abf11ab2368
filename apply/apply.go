// Package apply is `vsoc-compile apply`: it applies a build output (OUT) to
// AWS through CloudFormation change sets (package apply/cloudformation) and,
// given a kubeconfig, to the clusters by server-side apply (package
// apply/kube), and keeps an audit record of the run: who (STS caller
// identity), what (git commit of the customers folder, stacks, change sets),
// what was decided and how it ended.
package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	cfnapply "github.com/vsoc/vsoc/apply/cloudformation"
	"github.com/vsoc/vsoc/apply/kube"
	"github.com/vsoc/vsoc/compiler"
	rendercfn "github.com/vsoc/vsoc/render/cloudformation"
)

// Options describe one run.
type Options struct {
	// Out is the build output to apply (vsoc-compile build's OUT).
	Out string
	// CustomersDir is the customers folder Out was built from; its git
	// commit goes into the audit record.
	CustomersDir string
	// AWS is the SDK configuration (credentials chain, region, retryer).
	AWS aws.Config
	// EndpointURL, if set, replaces the CloudFormation and STS endpoints
	// (tests, local endpoints).
	EndpointURL string
	// Execute applies; without it the run is a dry run.
	Execute bool
	// AllowDestroy accepts change sets that replace or remove protected
	// resources.
	AllowDestroy bool
	// Only restricts the run to these customers ("hub" for the hub); empty
	// means everything in Out.
	Only []string
	// Parallelism bounds the customer stacks applied at once.
	Parallelism int
	// PollInterval is how often CloudFormation is polled.
	PollInterval time.Duration
	// Kubeconfig, if set, applies OUT/kube too: each cluster folder to the
	// kubeconfig context of the same name (or vsoc-<name>).
	Kubeconfig string
	// Progress receives what happens, line by line.
	Progress io.Writer
}

// Record is the audit record of one run.
type Record struct {
	Command      string            `json:"command"`
	StartedAt    string            `json:"startedAt"`
	FinishedAt   string            `json:"finishedAt"`
	Caller       Caller            `json:"caller"`
	Region       string            `json:"region"`
	Git          Git               `json:"git"`
	Out          string            `json:"out"`
	Execute      bool              `json:"execute"`
	AllowDestroy bool              `json:"allowDestroy"`
	Only         []string          `json:"only,omitempty"`
	Stacks       []cfnapply.Result `json:"stacks"`
	Clusters     []kube.Result     `json:"clusters,omitempty"`
	Skipped      []string          `json:"skippedClusters,omitempty"`
	// Deletions are the stacks tagged as vsoc's that the build no longer has
	// (customers no longer declared): deleted, or why not. A run with --only
	// deletes nothing.
	Deletions []cfnapply.Result `json:"deletions,omitempty"`
	Outcome   Outcome           `json:"outcome"`
}

// Caller is the AWS identity the run acted as.
type Caller struct {
	Account string `json:"account"`
	Arn     string `json:"arn"`
	UserID  string `json:"userId"`
}

// Git is the version of the customers repository applied.
type Git struct {
	Dir    string `json:"dir,omitempty"`
	Commit string `json:"commit,omitempty"`
	Dirty  bool   `json:"dirty,omitempty"`
	Note   string `json:"note,omitempty"` // why there is no commit
}

// Outcome sums a run up.
type Outcome string

const (
	Success     Outcome = "success"     // everything applied (or already was)
	DryRun      Outcome = "dry-run"     // everything previewed, nothing executed
	Refused     Outcome = "refused"     // something was not done on purpose
	Failed      Outcome = "failed"      // something failed; see the stacks and clusters
	Interrupted Outcome = "interrupted" // cancelled; the next run picks up
)

// OK reports whether the run needs no attention.
func (o Outcome) OK() bool { return o == Success || o == DryRun }

// Run applies opts.Out. Its error is for runs that could not start or
// record (unreadable output, no AWS identity); what happens to stacks and
// clusters is in the record.
func Run(ctx context.Context, opts Options) (*Record, error) {
	rec := &Record{
		Command: "vsoc-compile apply", StartedAt: now(), Region: opts.AWS.Region, Out: opts.Out,
		Execute: opts.Execute, AllowDestroy: opts.AllowDestroy, Only: opts.Only, Stacks: []cfnapply.Result{},
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	stacks, err := ReadStacks(opts.Out)
	if err != nil {
		return nil, err
	}
	var clusters []kube.Cluster
	if opts.Kubeconfig != "" {
		if clusters, err = kube.ReadClusters(opts.Out); err != nil {
			return nil, err
		}
		if len(clusters) == 0 {
			return nil, fmt.Errorf("--kubeconfig given, but %s holds no Kubernetes manifests (kube/clusters/*/rendered.yaml); run vsoc-compile build first", opts.Out)
		}
	}
	if stacks, clusters, err = selectOnly(opts.Only, stacks, clusters); err != nil {
		return nil, err
	}
	var targets []clusterTarget
	if opts.Kubeconfig != "" && len(clusters) > 0 {
		if targets, rec.Skipped, err = clusterTargets(opts.Kubeconfig, clusters, progress); err != nil {
			return nil, err
		}
	}
	rec.Git = gitVersion(ctx, opts.CustomersDir)

	cfnClient := cfn.NewFromConfig(opts.AWS, func(o *cfn.Options) {
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
		}
	})
	stsClient := sts.NewFromConfig(opts.AWS, func(o *sts.Options) {
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
		}
	})
	who, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("asking STS who this run acts as (check the AWS credentials): %w", err)
	}
	rec.Caller = Caller{Account: aws.ToString(who.Account), Arn: aws.ToString(who.Arn), UserID: aws.ToString(who.UserId)}
	fmt.Fprintf(progress, "applying %s as %s in %s (%s)\n", opts.Out, rec.Caller.Arn, rec.Region, mode(opts))

	description := "vsoc-compile apply"
	if rec.Git.Commit != "" {
		description += " of " + rec.Git.Commit
	}
	driver := cfnapply.New(cfnClient, cfnapply.Options{
		Execute: opts.Execute, AllowDestroy: opts.AllowDestroy, Parallelism: opts.Parallelism,
		PollInterval: opts.PollInterval, Description: description, Progress: progress,
	})
	if len(opts.Only) == 0 {
		if rec.Deletions, err = deleteRemovedCustomers(ctx, driver, stacks); err != nil {
			return nil, err
		}
	}
	rec.Stacks = driver.Apply(ctx, stacks, rec.Deletions)

	if opts.Kubeconfig != "" && ctx.Err() == nil {
		rec.Clusters = applyClusters(ctx, opts, targets, progress)
	}
	rec.Outcome = outcome(ctx, opts, rec)
	rec.FinishedAt = now()
	return rec, nil
}

// deleteRemovedCustomers deletes the stacks tagged as vsoc's that are not
// among the built stacks: those of customers no longer declared. It runs
// before the built stacks are applied: nothing imports a customer stack's
// resources, and a hub change may wait for a removed customer to stop
// importing its exports.
func deleteRemovedCustomers(ctx context.Context, driver *cfnapply.Driver, built []cfnapply.Stack) ([]cfnapply.Result, error) {
	known := make([]string, len(built))
	for i, s := range built {
		known[i] = s.Name
	}
	orphans, err := driver.Orphans(ctx, known)
	if err != nil {
		return nil, err
	}
	removed := make([]cfnapply.Stack, len(orphans))
	for i, name := range orphans {
		customer, _ := customerOf(name) // "": not a customer stack, which Delete refuses
		removed[i] = cfnapply.Stack{Name: name, Customer: customer}
	}
	return driver.Delete(ctx, removed), nil
}

// customerOf is the customer whose stack stackName is, as vsoc-compile
// build names customer stacks; "", false for any other name.
func customerOf(stackName string) (string, bool) {
	customerPrefix := strings.TrimSuffix(compiler.StackName("x"), "x")
	customer, ok := strings.CutPrefix(stackName, customerPrefix)
	if !ok || customer == "" {
		return "", false
	}
	return customer, true
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

func mode(opts Options) string {
	switch {
	case opts.Execute && opts.AllowDestroy:
		return "executing, destruction of protected resources and deletion of removed customers' stacks allowed"
	case opts.Execute:
		return "executing"
	}
	return "dry run: nothing is executed without --execute"
}

func outcome(ctx context.Context, opts Options, rec *Record) Outcome {
	worst := Success
	if !opts.Execute {
		worst = DryRun
	}
	raise := func(o Outcome) {
		rank := map[Outcome]int{Success: 0, DryRun: 0, Refused: 1, Failed: 2, Interrupted: 3}
		if rank[o] > rank[worst] {
			worst = o
		}
	}
	for _, s := range slices.Concat(rec.Stacks, rec.Deletions) {
		switch s.Outcome {
		case cfnapply.Refused:
			raise(Refused)
		case cfnapply.Failed:
			raise(Failed)
		case cfnapply.NotAttempted:
			// It follows from the hub's outcome, which is counted: a refused
			// hub makes the run refused, not failed.
		case cfnapply.Interrupted:
			raise(Interrupted)
		}
	}
	for _, c := range rec.Clusters {
		if c.Error != "" {
			raise(Failed)
		}
	}
	if ctx.Err() != nil {
		raise(Interrupted)
	}
	return worst
}

// ReadStacks reads the templates under out/aws: the hub's and one per
// customer, named as vsoc-compile build names them.
func ReadStacks(out string) ([]cfnapply.Stack, error) {
	pattern := filepath.Join(out, filepath.FromSlash(rendercfn.TemplatePath("*")))
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", pattern, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no CloudFormation templates (%s); run vsoc-compile build first, or pass --out", out, pattern)
	}
	sort.Strings(files)
	stacks := make([]cfnapply.Stack, 0, len(files))
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".template.json")
		customer := cfnapply.HubCustomer
		if name != compiler.HubStackName {
			var ok bool
			if customer, ok = customerOf(name); !ok {
				return nil, fmt.Errorf("%s: not a vsoc stack template (expected %s or %s); remove it from %s", file, compiler.HubStackName, compiler.StackName("<customer>"), out)
			}
		}
		body, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading template: %w", err)
		}
		stacks = append(stacks, cfnapply.Stack{Name: name, Customer: customer, Template: body, Source: file})
	}
	return stacks, nil
}

// selectOnly keeps the stacks and clusters of the customers named in only
// (the hub is "hub"); every name must match something.
func selectOnly(only []string, stacks []cfnapply.Stack, clusters []kube.Cluster) ([]cfnapply.Stack, []kube.Cluster, error) {
	if len(only) == 0 {
		return stacks, clusters, nil
	}
	found := map[string]bool{}
	var keptStacks []cfnapply.Stack
	for _, s := range stacks {
		if slices.Contains(only, s.Customer) {
			keptStacks = append(keptStacks, s)
			found[s.Customer] = true
		}
	}
	var keptClusters []kube.Cluster
	for _, c := range clusters {
		if slices.Contains(only, c.Name) {
			keptClusters = append(keptClusters, c)
			found[c.Name] = true
		}
	}
	for _, name := range only {
		if !found[name] {
			return nil, nil, fmt.Errorf("--only %s: no stack or cluster of that name in the build output (names are customer names, or %q)", name, cfnapply.HubCustomer)
		}
	}
	return keptStacks, keptClusters, nil
}

// gitVersion is the commit of the customers folder, if it is in a git
// repository.
func gitVersion(ctx context.Context, dir string) Git {
	if dir == "" {
		return Git{Note: "no customers folder given"}
	}
	g := Git{Dir: dir}
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		g.Note = "not a git checkout (git rev-parse HEAD failed)"
		return g
	}
	g.Commit = strings.TrimSpace(string(out))
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--", ".").Output()
	if err == nil && len(strings.TrimSpace(string(status))) > 0 {
		g.Dirty = true
	}
	return g
}

// clusterTarget is a cluster and the kubeconfig context it is applied to.
type clusterTarget struct {
	cluster kube.Cluster
	context string
	config  *rest.Config
}

// clusterTargets finds each cluster's kubeconfig context (named after the
// cluster, or vsoc-<name>); clusters without one are skipped and listed. It
// runs before anything is applied, so that a kubeconfig that cannot be read,
// or that reaches none of the clusters, stops the run before AWS is touched.
func clusterTargets(path string, clusters []kube.Cluster, progress io.Writer) ([]clusterTarget, []string, error) {
	kubeconfig, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	var targets []clusterTarget
	var skipped []string
	for _, c := range clusters {
		contextName := ""
		for _, candidate := range []string{c.Name, "vsoc-" + c.Name} {
			if _, ok := kubeconfig.Contexts[candidate]; ok {
				contextName = candidate
				break
			}
		}
		if contextName == "" {
			skipped = append(skipped, c.Name)
			fmt.Fprintf(progress, "%s: no kubeconfig context %q or %q in %s; cluster skipped\n", c.Name, c.Name, "vsoc-"+c.Name, path)
			continue
		}
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*kubeconfig, contextName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err != nil {
			return nil, nil, fmt.Errorf("kubeconfig %s, context %s: %w", path, contextName, err)
		}
		targets = append(targets, clusterTarget{cluster: c, context: contextName, config: cfg})
	}
	if len(targets) == 0 {
		return nil, nil, fmt.Errorf("kubeconfig %s has a context for none of the %d clusters (a cluster's context is named <name> or vsoc-<name>)", path, len(clusters))
	}
	return targets, skipped, nil
}

// applyClusters server-side applies each cluster to its context.
func applyClusters(ctx context.Context, opts Options, targets []clusterTarget, progress io.Writer) []kube.Result {
	var results []kube.Result
	for _, t := range targets {
		res := &kube.Result{Cluster: t.cluster.Name}
		applier, err := kube.NewApplier(t.config)
		if err == nil {
			res, err = applier.Apply(ctx, t.cluster, kube.Options{DryRun: !opts.Execute, Progress: progress})
		}
		res.Context = t.context
		if err != nil {
			res.Error = err.Error()
			fmt.Fprintf(progress, "%s: %v\n", t.cluster.Name, err)
		} else {
			fmt.Fprintf(progress, "%s: %d created, %d configured, %d unchanged, %d pruned\n", t.cluster.Name, len(res.Created), len(res.Configured), res.Unchanged, len(res.Pruned))
		}
		results = append(results, *res)
	}
	return results
}

// CheckRecordFile reports whether WriteRecord could write the audit record to file: that its
// folder takes the temporary file the record is written to first, and that file is not a folder.
// A run calls it before it starts, so that a record that cannot be kept is not found only after
// the change sets it records were executed.
func CheckRecordFile(file string) error {
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		return fmt.Errorf("audit file %s is a folder", file)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-")
	if err != nil {
		return fmt.Errorf("audit file %s cannot be written: %w", file, err)
	}
	tmp.Close()
	if err := os.Remove(tmp.Name()); err != nil {
		return fmt.Errorf("checking the audit file %s: %w", file, err)
	}
	return nil
}

// WriteRecord writes the record as indented JSON to w and, if file is set,
// to file (replaced atomically).
func WriteRecord(w io.Writer, file string, rec *Record) error {
	body, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the audit record: %w", err)
	}
	body = append(body, '\n')
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("writing the audit record: %w", err)
	}
	if file == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing the audit record: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the audit record to %s: %w", file, err)
	}
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the audit record to %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the audit record to %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("writing the audit record to %s: %w", file, err)
	}
	return nil
}
