package diff

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/vsoc/vsoc/internal/golden"
)

// The example workflow is valid YAML, runs the gate and the preview on pull
// requests and apply on main, and finds its comment by the marker the
// markdown preview starts with.
func TestGitHubActionsWorkflow(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(golden.RepoRoot(t), "examples", "github-actions", "vsoc.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		// YAML 1.1 (the library's) reads the key on as true; GitHub reads "on".
		On   map[string]any `json:"true"`
		Jobs map[string]struct {
			If          string            `json:"if"`
			Permissions map[string]string `json:"permissions"`
			Steps       []struct {
				If   string            `json:"if"`
				Run  string            `json:"run"`
				Uses string            `json:"uses"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("vsoc.yml: %v", err)
	}
	if _, ok := wf.On["pull_request"]; !ok {
		t.Error("the workflow does not run on pull requests")
	}
	steps := func(job string) string {
		var all strings.Builder
		for _, s := range wf.Jobs[job].Steps {
			all.WriteString(s.If + "\n" + s.Run + "\n" + s.Uses + "\n")
			for _, k := range sortedKeys(s.With) {
				all.WriteString(k + ": " + s.With[k] + "\n")
			}
		}
		return all.String()
	}
	preview := steps("preview")
	for _, want := range []string{
		"vsoc-compile validate --format github",
		`vsoc-compile diff --base "origin/$BASE_REF" --format markdown`,
		"'" + MarkdownMarker + "'",
		"updateComment",
		"fetch-depth: 0",
	} {
		if !strings.Contains(preview, want) {
			t.Errorf("the preview job lacks %q", want)
		}
	}
	if wf.Jobs["preview"].Permissions["pull-requests"] != "write" {
		t.Error("the preview job cannot comment: it needs pull-requests: write")
	}
	apply := steps("apply")
	if !strings.Contains(apply, "vsoc-compile build") || !strings.Contains(apply, "vsoc-compile apply") || !strings.Contains(apply, "--execute") {
		t.Errorf("the apply job does not build and apply:\n%s", apply)
	}
	if !strings.Contains(wf.Jobs["apply"].If, "refs/heads/main") || wf.Jobs["apply"].Permissions["id-token"] != "write" {
		t.Error("apply must run on main only, with an OIDC token")
	}
	// The version is pinned: vsoc refuses a vendored schema.cue of another
	// version, so an install of the latest would break every pull request at
	// the next release.
	if strings.Contains(preview+apply, "latest") || !strings.Contains(preview, "${VSOC_VERSION:?") {
		t.Error("vsoc-compile is installed without a pinned VSOC_VERSION")
	}
	// A fork's token cannot comment: the preview stays in the job summary.
	if !strings.Contains(preview, "github.event.pull_request.head.repo.full_name == github.repository") {
		t.Error("the comment step fails every pull request from a fork")
	}
	// Destructive changes are applied from a manual run only.
	if _, ok := wf.On["workflow_dispatch"]; !ok || !strings.Contains(apply, "--allow-destroy") || !strings.Contains(wf.Jobs["apply"].If, "workflow_dispatch") {
		t.Error("no manual run applies destructive changes with --allow-destroy")
	}
}
