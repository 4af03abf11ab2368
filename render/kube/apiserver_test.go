package kube

import (
	"fmt"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/vsoc/vsoc/internal/fleettest"
	"github.com/vsoc/vsoc/internal/testenv"
)

const fieldManager = "vsoc"

// warnings collects the API server's warnings (pod security among them).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// TestServerSideApply applies every cluster's rendered.yaml of the sample
// fleet to a real kube-apiserver (one after the other: each customer's
// cluster is separate in reality, here they share one server) and requires
// every object to be accepted, without warnings, and to read back as vsoc's.
func TestServerSideApply(t *testing.T) {
	p := fleettest.SamplePlan(t)
	files := mustRender(t, p)
	env := testenv.KubeAPIServer(t)

	config := rest.CopyConfig(env.Config)
	seen := &warnings{}
	config.WarningHandler = seen
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))

	for _, cluster := range clusters(p) {
		t.Run(cluster, func(t *testing.T) {
			objs := documents(t, files[ClusterDir(cluster)+"/"+RenderedFile])
			if objs[0].GetKind() != "Namespace" {
				t.Fatalf("the first object is a %s: namespaces must come first", objs[0].GetKind())
			}
			for _, obj := range objs {
				what := fmt.Sprintf("%s %s/%s", obj.GetKind(), obj.GetNamespace(), obj.GetName())
				gvk := obj.GroupVersionKind()
				mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Fatalf("%s: no REST mapping: %v", what, err)
				}
				var resource dynamic.ResourceInterface = client.Resource(mapping.Resource)
				if obj.GetNamespace() != "" {
					resource = client.Resource(mapping.Resource).Namespace(obj.GetNamespace())
				}
				applied, err := resource.Apply(t.Context(), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
				if err != nil {
					t.Errorf("%s: refused: %v", what, err)
					continue
				}
				if got := applied.GetLabels()[customerLabel]; got != cluster {
					t.Errorf("%s: applied with %s=%q, want %q", what, customerLabel, got, cluster)
				}
				assertAppliedBy(t, what, applied)
			}
			if w := seen.take(); len(w) > 0 {
				t.Errorf("the API server warned: %q", w)
			}
		})
	}

	// The control: the same Deployment without its container security
	// context draws pod-security warnings, so the silence above means the
	// proxy meets the "restricted" standard rather than nobody checking.
	t.Run("pod-security control", func(t *testing.T) {
		name := p.Customers[0].Customer.Name
		var deployment *unstructured.Unstructured
		for _, obj := range documents(t, files[ClusterDir(name)+"/"+RenderedFile]) {
			if obj.GetKind() == "Deployment" {
				deployment = obj
			}
		}
		containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
		delete(containers[0].(map[string]any), "securityContext")
		if err := unstructured.SetNestedSlice(deployment.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
		deployments := client.Resource(appsv1.SchemeGroupVersion.WithResource("deployments")).Namespace(deployment.GetNamespace())
		if _, err := deployments.Apply(t.Context(), deployment.GetName(), deployment, metav1.ApplyOptions{
			FieldManager: fieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
		}); err != nil {
			t.Fatalf("dry-run apply: %v", err)
		}
		if w := seen.take(); len(w) == 0 {
			t.Error("no pod-security warning for a container without a security context")
		}
	})
}

func assertAppliedBy(t *testing.T, what string, obj *unstructured.Unstructured) {
	t.Helper()
	for _, m := range obj.GetManagedFields() {
		if m.Manager == fieldManager && m.Operation == metav1.ManagedFieldsOperationApply {
			return
		}
	}
	t.Errorf("%s: no Apply entry by field manager %s in %+v", what, fieldManager, obj.GetManagedFields())
}
