package kube

import (
	"github.com/vsoc/vsoc/render/internal/fastyaml"
)

// toYAML is sigs.k8s.io/yaml.Marshal, fast where possible, with a fresh
// scalar cache. The renderer itself threads one fastyaml.Encoder through a
// worker's customers instead.
func toYAML(obj any) ([]byte, error) {
	return fastyaml.NewEncoder().Marshal(obj)
}

// fastJSONToYAML is yaml.JSONToYAML for the shapes the fast encoder covers;
// fastyaml.ErrNotFast otherwise.
func fastJSONToYAML(raw []byte) ([]byte, error) {
	return fastyaml.NewEncoder().FromJSON(raw)
}
