package apply

import (
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/vsoc/vsoc/internal/testenv"
)

func TestClustersAreAppliedToTheirKubeconfigContexts(t *testing.T) {
	env := testenv.KubeAPIServer(t)
	f := newFixture(t)

	// One context, named after the customer cluster it reaches.
	kubeconfig, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	current := kubeconfig.Contexts[kubeconfig.CurrentContext]
	kubeconfig.Contexts = map[string]*clientcmdapi.Context{"vsoc-wobcom": current}
	kubeconfig.CurrentContext = "vsoc-wobcom"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		t.Fatal(err)
	}

	opts := f.options(false)
	opts.Kubeconfig = path
	rec := f.run(t.Context(), opts)
	if len(rec.Clusters) != 1 || rec.Clusters[0].Cluster != "wobcom" || rec.Clusters[0].Context != "vsoc-wobcom" || !rec.Clusters[0].DryRun {
		t.Fatalf("dry run clusters %+v", rec.Clusters)
	}
	if !slices.Contains(rec.Skipped, "hub") || !slices.Contains(rec.Skipped, "wacker") {
		t.Errorf("skipped %v, want every cluster without a context", rec.Skipped)
	}
	created := len(rec.Clusters[0].Created)

	opts.Execute = true
	rec = f.run(t.Context(), opts)
	if rec.Outcome != Success || len(rec.Clusters[0].Created) != created || rec.Clusters[0].Error != "" {
		t.Fatalf("apply: %s %+v", rec.Outcome, rec.Clusters)
	}
	rec = f.run(t.Context(), opts)
	if c := rec.Clusters[0]; len(c.Created)+len(c.Configured)+len(c.Pruned) != 0 || c.Unchanged != created {
		t.Fatalf("second apply is not a no-op: %+v", c)
	}
}
