package kube

import (
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizeBuild runs kustomize's own build (krusty, on an in-memory file
// system holding the rendered kube/ tree) for one cluster folder.
func kustomizeBuild(files map[string][]byte, cluster string) ([]byte, error) {
	fs := filesys.MakeFsInMemory()
	for name, content := range files {
		if !strings.HasPrefix(name, "kube/") {
			continue
		}
		if err := fs.WriteFile(path.Join("/", name), content); err != nil {
			return nil, fmt.Errorf("writing %s to the in-memory file system: %w", name, err)
		}
	}
	resources, err := krusty.MakeKustomizer(krustyOptions()).Run(fs, path.Join("/", ClusterDir(cluster)))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", ClusterDir(cluster), err)
	}
	out, err := resources.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: encoding: %w", ClusterDir(cluster), err)
	}
	return out, nil
}

// krustyOptions are krusty's defaults with the sort order left to the
// kustomization (as the kustomize CLI does when --reorder is not given).
func krustyOptions() *krusty.Options {
	o := krusty.MakeDefaultOptions()
	o.Reorder = krusty.ReorderOptionUnspecified
	return o
}
