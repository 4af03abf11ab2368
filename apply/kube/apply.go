package kube

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Result is what applying one cluster did; object references read
// "Kind namespace/name" (or "Kind name" for cluster-scoped objects), sorted.
type Result struct {
	Cluster    string   `json:"cluster"`
	Context    string   `json:"context,omitempty"`
	DryRun     bool     `json:"dryRun,omitempty"`
	Created    []string `json:"created,omitempty"`
	Configured []string `json:"configured,omitempty"`
	Unchanged  int      `json:"unchanged"`
	Pruned     []string `json:"pruned,omitempty"`
	// Kept are namespaces no longer rendered that still hold objects vsoc
	// does not manage, so deleting them would delete those too.
	Kept  []string `json:"kept,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Options tune an apply.
type Options struct {
	// DryRun sends everything with dryRun=All: the server validates and
	// reports, nothing is stored, nothing is pruned.
	DryRun bool
	// Progress receives one line per object that changes; nil discards.
	Progress io.Writer
}

// Applier applies to one cluster.
type Applier struct {
	dyn    dynamic.Interface
	disc   discovery.DiscoveryInterface
	mapper meta.RESTMapper
}

// NewApplier connects to the cluster behind cfg. Without a rate limit of
// its own, cfg gets kubectl's (50 requests/s, bursts of 300) rather than
// client-go's default of 5/s: an apply reads every object and lists every
// resource type for pruning.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = 50, 300
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the dynamic client for %s: %w", cfg.Host, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the discovery client for %s: %w", cfg.Host, err)
	}
	cached := memory.NewMemCacheClient(disc)
	return &Applier{dyn: dyn, disc: cached, mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached)}, nil
}

// objectKey identifies an object independently of its API version.
type objectKey struct {
	group, kind, namespace, name string
}

func keyOf(obj *unstructured.Unstructured) objectKey {
	gvk := obj.GroupVersionKind()
	return objectKey{gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName()}
}

func (k objectKey) String() string {
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

// Apply server-side applies the cluster's objects (namespaces first) and
// then prunes vsoc's objects of this cluster that are no longer rendered.
func (a *Applier) Apply(ctx context.Context, c Cluster, opts Options) (*Result, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	res := &Result{Cluster: c.Name, DryRun: opts.DryRun}
	objs := slices.Clone(c.Objects)
	// Namespaces first, so the objects in them can be created; the rest in
	// file order.
	slices.SortStableFunc(objs, func(x, y *unstructured.Unstructured) int {
		return boolRank(x.GetKind() != "Namespace") - boolRank(y.GetKind() != "Namespace")
	})
	rendered := map[objectKey]bool{}
	// A dry run cannot send objects into namespaces it only pretended to
	// create (the server answers "namespace not found"); they are new too.
	pretended := map[string]bool{}
	for _, obj := range objs {
		rendered[keyOf(obj)] = true
		var changed, created bool
		var err error
		if opts.DryRun && obj.GetNamespace() != "" && pretended[obj.GetNamespace()] {
			changed, created = true, true
			_, err = a.resourceFor(obj)
		} else {
			changed, created, err = a.applyOne(ctx, obj, opts.DryRun)
		}
		if opts.DryRun && created && obj.GetKind() == "Namespace" && obj.GroupVersionKind().Group == "" {
			pretended[obj.GetName()] = true
		}
		if err != nil {
			return res, fmt.Errorf("%s: applying %s: %w", c.File, keyOf(obj), err)
		}
		switch {
		case created:
			res.Created = append(res.Created, keyOf(obj).String())
			fmt.Fprintf(progress, "%s: %s created\n", c.Name, keyOf(obj))
		case changed:
			res.Configured = append(res.Configured, keyOf(obj).String())
			fmt.Fprintf(progress, "%s: %s configured\n", c.Name, keyOf(obj))
		default:
			res.Unchanged++
		}
	}
	if err := a.prune(ctx, c, rendered, opts.DryRun, res, progress); err != nil {
		return res, err
	}
	slices.Sort(res.Created)
	slices.Sort(res.Configured)
	slices.Sort(res.Pruned)
	slices.Sort(res.Kept)
	return res, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *Applier) resourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("the cluster does not serve %s: %w", gvk, err)
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			return nil, fmt.Errorf("%s is namespaced but has no metadata.namespace", gvk.Kind)
		}
		return a.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return a.dyn.Resource(mapping.Resource), nil
}

// applyOne applies obj and reports whether the stored object changed, and
// whether it was created.
func (a *Applier) applyOne(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) (changed, created bool, err error) {
	client, err := a.resourceFor(obj)
	if err != nil {
		return false, false, err
	}
	before, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		before = nil
	case err != nil:
		return false, false, err
	}
	applyOpts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		applyOpts.DryRun = []string{metav1.DryRunAll}
	}
	after, err := client.Apply(ctx, obj.GetName(), obj, applyOpts)
	if err != nil {
		return false, false, err
	}
	if before == nil {
		return true, true, nil
	}
	if !dryRun {
		return after.GetResourceVersion() != before.GetResourceVersion(), false, nil
	}
	return !reflect.DeepEqual(comparable(before), comparable(after)), false, nil
}

// comparable strips what a dry-run apply changes without the object
// changing.
func comparable(obj *unstructured.Unstructured) map[string]any {
	c := obj.DeepCopy()
	unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(c.Object, "metadata", "generation")
	return c.Object
}

// listable are the resource types objects of which can be listed and
// deleted: every type the server prefers, except subresources and events.
func (a *Applier) listable() ([]schema.GroupVersionResource, map[schema.GroupVersionResource]bool, error) {
	lists, err := a.disc.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, nil, fmt.Errorf("discovering resource types: %w", err)
	}
	var out []schema.GroupVersionResource
	namespaced := map[schema.GroupVersionResource]bool{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || r.Name == "events" ||
				!slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			out = append(out, gvr)
			namespaced[gvr] = r.Namespaced
		}
	}
	slices.SortFunc(out, func(x, y schema.GroupVersionResource) int { return strings.Compare(x.String(), y.String()) })
	return out, namespaced, nil
}

// prune deletes vsoc's objects of this cluster that were not rendered:
// namespaced ones first, then cluster-scoped ones, and namespaces last, only
// when nothing vsoc does not manage is left in them. What vsoc may not list
// is never deleted, nor a namespace it cannot see all of.
func (a *Applier) prune(ctx context.Context, c Cluster, rendered map[objectKey]bool, dryRun bool, res *Result, progress io.Writer) error {
	types, namespaced, err := a.listable()
	if err != nil {
		return err
	}
	selector := fmt.Sprintf("%s=%s,%s=%s", LabelManagedBy, ManagedBy, LabelCustomer, c.Name)
	var stale []unstructured.Unstructured
	var staleNamespaces []unstructured.Unstructured
	for _, gvr := range types {
		list, err := a.dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: selector})
		switch {
		case apierrors.IsForbidden(err):
			// Not deleting is the safe side; a namespace holding objects of
			// this type is then kept too (unmanagedIn).
			fmt.Fprintf(progress, "%s: vsoc may not list %s: none of them is pruned\n", c.Name, gvr.GroupResource())
			continue
		case apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err):
			continue
		case err != nil:
			return fmt.Errorf("listing %s labelled %s: %w", gvr.Resource, selector, err)
		}
		for _, item := range list.Items {
			// Objects made by controllers from vsoc's (ReplicaSets, Pods,
			// EndpointSlices) inherit its labels; their owner answers for them.
			if len(item.GetOwnerReferences()) > 0 || rendered[keyOf(&item)] {
				continue
			}
			if gvr.Group == "" && gvr.Resource == "namespaces" {
				staleNamespaces = append(staleNamespaces, item)
			} else {
				stale = append(stale, item)
			}
		}
	}
	// Namespaced objects before cluster-scoped ones.
	slices.SortStableFunc(stale, func(x, y unstructured.Unstructured) int {
		return boolRank(x.GetNamespace() == "") - boolRank(y.GetNamespace() == "")
	})
	for i := range stale {
		if err := a.delete(ctx, &stale[i], dryRun); err != nil {
			return err
		}
		res.Pruned = append(res.Pruned, keyOf(&stale[i]).String())
		fmt.Fprintf(progress, "%s: %s pruned\n", c.Name, keyOf(&stale[i]))
	}
	for i := range staleNamespaces {
		ns := &staleNamespaces[i]
		why, err := a.unmanagedIn(ctx, ns.GetName(), types, namespaced)
		if err != nil {
			return err
		}
		if why != "" {
			res.Kept = append(res.Kept, keyOf(ns).String())
			fmt.Fprintf(progress, "%s: %s no longer rendered but kept: %s\n", c.Name, keyOf(ns), why)
			continue
		}
		if err := a.delete(ctx, ns, dryRun); err != nil {
			return err
		}
		res.Pruned = append(res.Pruned, keyOf(ns).String())
		fmt.Fprintf(progress, "%s: %s pruned\n", c.Name, keyOf(ns))
	}
	return nil
}

func (a *Applier) delete(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) error {
	client, err := a.resourceFor(obj)
	if err != nil {
		return err
	}
	opts := metav1.DeleteOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if err := client.Delete(ctx, obj.GetName(), opts); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("pruning %s: %w", keyOf(obj), err)
	}
	return nil
}

// unmanagedIn says why namespace must be kept: it holds an object vsoc does
// not manage, or objects vsoc may not list (deleting the namespace would
// delete them unseen); "" when nothing keeps it. What Kubernetes puts in
// every namespace by itself (the default service account, the root CA config
// map, events) and objects owned by others do not count.
func (a *Applier) unmanagedIn(ctx context.Context, namespace string, types []schema.GroupVersionResource, namespaced map[schema.GroupVersionResource]bool) (string, error) {
	for _, gvr := range types {
		if !namespaced[gvr] {
			continue
		}
		list, err := a.dyn.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
		switch {
		case apierrors.IsForbidden(err):
			return fmt.Sprintf("vsoc may not list its %s, which deleting it would delete too", gvr.GroupResource()), nil
		case apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err):
			continue
		case err != nil:
			return "", fmt.Errorf("listing %s in namespace %s: %w", gvr.Resource, namespace, err)
		}
		for _, item := range list.Items {
			labels := item.GetLabels()
			switch {
			case len(item.GetOwnerReferences()) > 0,
				labels[LabelManagedBy] == ManagedBy,
				gvr.Resource == "serviceaccounts" && item.GetName() == "default",
				gvr.Resource == "configmaps" && item.GetName() == "kube-root-ca.crt":
				continue
			}
			return fmt.Sprintf("it holds %s %s, which vsoc does not manage", item.GetKind(), item.GetName()), nil
		}
	}
	return "", nil
}
