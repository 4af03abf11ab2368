package kube

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/testenv"
	renderkube "github.com/vsoc/vsoc/render/kube"
)

// renderFleet copies the sample fleet, applies edits (old → new, per
// file), and renders its Kubernetes output into a fresh OUT.
func renderFleet(t *testing.T, edits map[string][2]string) string {
	t.Helper()
	root := t.TempDir()
	customers := filepath.Join(root, "customers")
	fleettest.CopySample(t, customers)
	for _, file := range slices.Sorted(maps.Keys(edits)) {
		fleettest.Edit(t, filepath.Join(customers, file), edits[file][0], edits[file][1])
	}
	files, err := renderkube.Render(fleettest.Plan(t, customers))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out")
	fleettest.WriteOut(t, out, files)
	return out
}

func cluster(t *testing.T, out, name string) Cluster {
	t.Helper()
	clusters, err := ReadClusters(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clusters {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s in %s", name, out)
	return Cluster{}
}

func TestReadClustersRequiresVsocLabels(t *testing.T) {
	out := t.TempDir()
	dir := filepath.Join(out, "kube", "clusters", "acme")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: y\n  labels:\n    app.kubernetes.io/managed-by: vsoc\n"
	if err := os.WriteFile(filepath.Join(dir, "rendered.yaml"), []byte("---\n"+doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadClusters(out)
	if err == nil || !strings.Contains(err.Error(), "rendered.yaml: document 1 (ConfigMap x)") || !strings.Contains(err.Error(), "vsoc.io/customer=acme") {
		t.Fatalf("err = %v, want the file, document and missing label", err)
	}
}

func TestApplyAndPruneAgainstKubeAPIServer(t *testing.T) {
	env := testenv.KubeAPIServer(t)
	ctx := t.Context()
	client, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	applier, err := NewApplier(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	wobcom := cluster(t, renderFleet(t, nil), "wobcom")
	total := len(wobcom.Objects)

	// A dry run stores nothing.
	res, err := applier.Apply(ctx, wobcom, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != total {
		t.Errorf("dry run would create %d objects, want %d", len(res.Created), total)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, "mla", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a dry run created namespace mla: %v", err)
	}

	// The first apply creates everything.
	res, err = applier.Apply(ctx, wobcom, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != total || len(res.Pruned) != 0 {
		t.Fatalf("first apply: %d created, %d pruned; want %d, 0", len(res.Created), len(res.Pruned), total)
	}
	policies, err := client.NetworkingV1().NetworkPolicies("mla").List(ctx, metav1.ListOptions{})
	if err != nil || len(policies.Items) == 0 {
		t.Fatalf("no NetworkPolicies in mla after apply: %v", err)
	}
	for _, np := range policies.Items {
		if !slices.ContainsFunc(np.ManagedFields, func(m metav1.ManagedFieldsEntry) bool {
			return m.Manager == FieldManager && m.Operation == metav1.ManagedFieldsOperationApply
		}) {
			t.Errorf("NetworkPolicy %s is not server-side applied by %s", np.Name, FieldManager)
		}
	}

	// The second is a no-op.
	res, err = applier.Apply(ctx, wobcom, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created)+len(res.Configured)+len(res.Pruned) != 0 || res.Unchanged != total {
		t.Fatalf("second apply: %+v", res)
	}

	// Objects vsoc does not manage: one in a vsoc namespace, one namespace
	// of the customer's own, and one labelled for another customer.
	if _, err := client.CoreV1().ConfigMaps("mla").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "operator-notes"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "customer-team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	otherCustomers := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "other-customer", Labels: map[string]string{LabelManagedBy: ManagedBy, LabelCustomer: "cubebikes"}}}
	if _, err := client.CoreV1().ConfigMaps("monitoring").Create(ctx, otherCustomers, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The customer drops namespace mla: its NetworkPolicies are pruned; the
	// namespace is kept while it holds the unmanaged config map.
	wobcom = cluster(t, renderFleet(t, map[string][2]string{"wobcom.cue": {`mla: area:          "observability"`, ""}}), "wobcom")
	res, err = applier.Apply(ctx, wobcom, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pruned) == 0 || !strings.HasPrefix(res.Pruned[0], "NetworkPolicy mla/") {
		t.Fatalf("pruned %v, want mla's NetworkPolicies", res.Pruned)
	}
	if !slices.Equal(res.Kept, []string{"Namespace mla"}) {
		t.Errorf("kept %v, want namespace mla (it holds operator-notes)", res.Kept)
	}
	if policies, _ := client.NetworkingV1().NetworkPolicies("mla").List(ctx, metav1.ListOptions{}); len(policies.Items) != 0 {
		t.Errorf("%d NetworkPolicies left in mla", len(policies.Items))
	}
	for _, get := range []func() error{
		func() error {
			_, err := client.CoreV1().ConfigMaps("mla").Get(ctx, "operator-notes", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := client.CoreV1().Namespaces().Get(ctx, "customer-team", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := client.CoreV1().ConfigMaps("monitoring").Get(ctx, "other-customer", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Errorf("an object vsoc does not manage was touched: %v", err)
		}
	}
	if ns, err := client.CoreV1().Namespaces().Get(ctx, "mla", metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("namespace mla is being deleted although it holds operator-notes")
	}

	// Once the namespace is empty of foreign objects, it is pruned too.
	if err := client.CoreV1().ConfigMaps("mla").Delete(ctx, "operator-notes", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = applier.Apply(ctx, wobcom, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Pruned, []string{"Namespace mla"}) {
		t.Errorf("pruned %v, want namespace mla", res.Pruned)
	}
	ns, err := client.CoreV1().Namespaces().Get(ctx, "mla", metav1.GetOptions{})
	if err == nil && ns.DeletionTimestamp == nil {
		t.Errorf("namespace mla was not deleted")
	}

	// Drift on a vsoc object is put back.
	sa, err := client.CoreV1().ServiceAccounts("vsoc-proxy").List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy})
	if err != nil || len(sa.Items) == 0 {
		t.Fatalf("no vsoc service account: %v", err)
	}
	drifted := sa.Items[0]
	drifted.Labels[LabelCustomer+"-drift"] = "x"
	automount := !boolValue(drifted.AutomountServiceAccountToken)
	drifted.AutomountServiceAccountToken = &automount
	if _, err := client.CoreV1().ServiceAccounts("vsoc-proxy").Update(ctx, &drifted, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	res, err = applier.Apply(ctx, wobcom, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Configured, []string{"ServiceAccount vsoc-proxy/" + drifted.Name}) {
		t.Errorf("configured %v, want the drifted service account", res.Configured)
	}

	// An identity that may not read secrets cannot tell whether a namespace
	// no longer rendered is empty: it keeps it, and the secret lives.
	withTools := cluster(t, renderFleet(t, map[string][2]string{"wobcom.cue": {`mla: area:          "observability"`, `tools: area: "observability"`}}), "wobcom")
	if _, err := applier.Apply(ctx, withTools, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets("tools").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-password"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	restricted, err := NewApplier(withoutSecrets(t, env.Config, client))
	if err != nil {
		t.Fatal(err)
	}
	res, err = restricted.Apply(ctx, wobcom, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Kept, "Namespace tools") || slices.Contains(res.Pruned, "Namespace tools") {
		t.Errorf("kept %v, pruned %v; want namespace tools kept (its secrets could not be listed)", res.Kept, res.Pruned)
	}
	if ns, err := client.CoreV1().Namespaces().Get(ctx, "tools", metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("namespace tools is being deleted with a secret vsoc could not see: %v", err)
	}
}

// withoutSecrets returns config for a user who may do everything with every
// resource the server has except secrets, as a CI identity kept away from a
// cluster's secrets is.
func withoutSecrets(t *testing.T, admin *rest.Config, client kubernetes.Interface) *rest.Config {
	t.Helper()
	const user = "ci-without-secrets"
	lists, err := client.Discovery().ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		rule := rbacv1.PolicyRule{APIGroups: []string{gv.Group}, Verbs: []string{"*"}}
		for _, r := range l.APIResources {
			if gv.Group != "" || r.Name != "secrets" {
				rule.Resources = append(rule.Resources, r.Name)
			}
		}
		if len(rule.Resources) > 0 {
			role.Rules = append(role.Rules, rule)
		}
	}
	if _, err := client.RbacV1().ClusterRoles().Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	config := rest.CopyConfig(admin)
	config.Impersonate = rest.ImpersonationConfig{UserName: user}
	return config
}

func boolValue(b *bool) bool { return b != nil && *b }
