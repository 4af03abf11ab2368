package kube

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"github.com/vsoc/vsoc/render/internal/fastyaml"
)

// manifest is one Kubernetes object, already encoded. The same bytes go into
// the kustomize tree and, for objects no kustomize transformer touches, into
// the flattened output, so each object is encoded once.
type manifest struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
	yaml      []byte
}

// encode marshals a typed object with sigs.k8s.io/yaml (keys sorted, so the
// bytes do not depend on map order) and drops its empty status: the renderer
// declares desired state only, and `status: {}` would be noise in review.
func encode(enc *fastyaml.Encoder, gvk schema.GroupVersionKind, namespace, name string, obj any) (manifest, error) {
	out, err := enc.Marshal(obj)
	if err != nil {
		return manifest{}, fmt.Errorf("encoding %s %s/%s: %w", gvk.Kind, namespace, name, err)
	}
	return newManifest(gvk, namespace, name, obj, out), nil
}

// newManifest is an encoded object without its status.
func newManifest(gvk schema.GroupVersionKind, namespace, name string, obj any, out []byte) manifest {
	// status is the last top-level key (keys are sorted) and top-level keys
	// are the only lines starting in column 0, so cutting at "\nstatus:"
	// removes exactly the status block. Only a type with a Status field is
	// searched: the others (most objects are NetworkPolicies) have none to
	// cut, and searching them all cost about 2% of the rendering.
	if !hasStatus(obj) {
		return manifest{gvk: gvk, namespace: namespace, name: name, yaml: out}
	}
	if i := bytes.LastIndex(out, []byte("\nstatus:")); i >= 0 {
		out = out[:i+1]
	}
	return manifest{gvk: gvk, namespace: namespace, name: name, yaml: out}
}

// hasStatus reports whether obj, a typed object or a pointer to one, has a
// Status field (its JSON is "status", as in every Kubernetes type).
func hasStatus(obj any) bool {
	t := reflect.TypeOf(obj)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return true // not a typed object: search
	}
	_, ok := t.FieldByName("Status")
	return ok
}

// joinDocuments writes manifests as one multi-document YAML file, in the
// order given.
func joinDocuments(ms []manifest) []byte {
	size := 0
	for _, m := range ms {
		size += len(m.yaml) + len("---\n")
	}
	// Sized once: the documents are most of a customer's output, and growing
	// the buffer would copy them several times.
	var b bytes.Buffer
	b.Grow(size)
	for i, m := range ms {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(m.yaml)
	}
	return b.Bytes()
}

// flatten is what `kustomize build` prints for these objects: kustomize's
// legacy resource order (its default), documents separated by "---".
// TestFlattenMatchesKrusty proves the bytes equal krusty's own output.
func flatten(ms []manifest) []byte {
	sorted := slices.Clone(ms)
	slices.SortFunc(sorted, compareLegacy)
	return joinDocuments(sorted)
}

// legacyKindOrder is kustomize's legacy sort order (sigs.k8s.io/kustomize
// api/internal/builtins SortOrderTransformer with its default options): these
// kinds first in this order, unlisted kinds after them, webhooks last.
var legacyKindOrder = []string{
	"Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition",
	"ServiceAccount", "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding",
	"ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service",
	"LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim",
	"Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
}

func kindRank(kind string) int {
	if i := slices.Index(legacyKindOrder, kind); i >= 0 {
		return i - len(legacyKindOrder)
	}
	return 0 // no webhook configurations are rendered
}

// compareLegacy orders as kustomize's legacyIDSorter: kind rank, then
// group_version_kind, then "kind.version.group|namespace|name".
func compareLegacy(a, b manifest) int {
	if a.gvk != b.gvk {
		if ra, rb := kindRank(a.gvk.Kind), kindRank(b.gvk.Kind); ra != rb {
			return ra - rb
		}
		return strings.Compare(legacyGVK(a.gvk), legacyGVK(b.gvk))
	}
	return strings.Compare(legacyID(a), legacyID(b))
}

func legacyGVK(g schema.GroupVersionKind) string {
	return orDefault(g.Group, "~G") + "_" + orDefault(g.Version, "~V") + "_" + orDefault(g.Kind, "~K")
}

func legacyID(m manifest) string {
	gvk := resid.NewGvk(m.gvk.Group, m.gvk.Version, m.gvk.Kind).String()
	return gvk + "|" + orDefault(m.namespace, "~X") + "|" + orDefault(m.name, "~N")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
