// Package kube server-side applies the rendered Kubernetes manifests of each
// cluster (OUT/kube/clusters/<cluster>/rendered.yaml) with field manager
// "vsoc", and prunes what vsoc applied earlier and no longer renders. Only
// objects labelled app.kubernetes.io/managed-by=vsoc and
// vsoc.io/customer=<cluster> are ever pruned; a namespace is only pruned once
// nothing vsoc does not manage is left in it.
package kube

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	renderkube "github.com/vsoc/vsoc/render/kube"
)

// The labels every rendered object carries, and pruning selects on.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "vsoc"
	LabelCustomer  = "vsoc.io/customer"
	// FieldManager owns the fields vsoc applies.
	FieldManager = "vsoc"
)

// Cluster is one cluster's rendered manifests.
type Cluster struct {
	Name    string // "hub" or a customer name: the vsoc.io/customer label value
	File    string // the rendered.yaml the objects were read from
	Objects []*unstructured.Unstructured
}

// ReadClusters reads every cluster's rendered manifests under out, sorted by
// cluster name. A folder without kube output gives no clusters.
func ReadClusters(out string) ([]Cluster, error) {
	pattern := filepath.Join(out, filepath.FromSlash(renderkube.ClusterDir("*")), renderkube.RenderedFile)
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", pattern, err)
	}
	sort.Strings(files)
	clusters := make([]Cluster, 0, len(files))
	for _, file := range files {
		name := filepath.Base(filepath.Dir(file))
		objs, err := readManifests(file, name)
		if err != nil {
			return nil, err
		}
		clusters = append(clusters, Cluster{Name: name, File: file, Objects: objs})
	}
	return clusters, nil
}

// readManifests decodes a multi-document YAML file and checks that every
// object carries vsoc's labels for this cluster: without them a later run
// could not prune it.
func readManifests(file, cluster string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || isOnlyComments(raw) {
			continue
		}
		var content map[string]any
		if err := yaml.Unmarshal(raw, &content); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, doc, err)
		}
		if content == nil {
			continue
		}
		obj := &unstructured.Unstructured{Object: content}
		where := fmt.Sprintf("%s: document %d (%s %s)", file, doc, obj.GetKind(), obj.GetName())
		if obj.GetAPIVersion() == "" || obj.GetKind() == "" || obj.GetName() == "" {
			return nil, fmt.Errorf("%s: apiVersion, kind and metadata.name are required", where)
		}
		labels := obj.GetLabels()
		if labels[LabelManagedBy] != ManagedBy || labels[LabelCustomer] != cluster {
			return nil, fmt.Errorf("%s: labels %s=%s and %s=%s are required so that apply can prune the object later; the renderer must set them",
				where, LabelManagedBy, ManagedBy, LabelCustomer, cluster)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

func isOnlyComments(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" {
			return false
		}
	}
	return true
}
