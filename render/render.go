// Package render turns a plan into the output tree: it runs every target
// (CloudFormation, DNS, Kubernetes, proxy, SSH) and writes their files
// atomically, so that a failed build leaves the previous output as it was.
package render

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/vsoc/vsoc/compiler"
)

// Files is an output tree: slash-separated paths relative to the output
// folder, mapped to their content.
type Files map[string][]byte

// Paths returns the paths in order.
func (f Files) Paths() []string {
	paths := make([]string, 0, len(f))
	for p := range f {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// Target renders one kind of artifact.
type Target struct {
	Name   string
	Render func(*compiler.Plan) (map[string][]byte, error)
}

// All renders every target in parallel and merges their files. Two targets
// writing the same path is a bug in vsoc, reported as such.
func All(p *compiler.Plan, targets []Target) (Files, error) {
	outputs := make([]map[string][]byte, len(targets))
	var g errgroup.Group
	for i, t := range targets {
		g.Go(func() error {
			files, err := t.Render(p)
			if err != nil {
				return fmt.Errorf("rendering %s: %w", t.Name, err)
			}
			outputs[i] = files
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	all := Files{}
	owner := map[string]string{}
	for i, files := range outputs {
		for name, content := range files {
			if err := checkRelative(name); err != nil {
				return nil, fmt.Errorf("target %s: %w", targets[i].Name, err)
			}
			if prev, ok := owner[name]; ok {
				return nil, fmt.Errorf("targets %s and %s both write %s", prev, targets[i].Name, name)
			}
			owner[name] = targets[i].Name
			all[name] = content
		}
	}
	return all, nil
}

func checkRelative(name string) error {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") {
		return fmt.Errorf("output path %q is not a clean relative path", name)
	}
	return nil
}

// Write replaces the folder out with exactly files. It writes a sibling
// folder first and swaps it in with renames, so that out is never half
// written: after a failure it still holds the previous build.
func Write(out string, files Files) error {
	out = filepath.Clean(out)
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	staging, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".new-")
	if err != nil {
		return fmt.Errorf("creating a staging folder next to %s: %w", out, err)
	}
	defer os.RemoveAll(staging)
	// One writer, each folder created just before its first file: writing a
	// small file is CPU work in the kernel, not waiting. Measured on 70,000
	// files (2 cores, ext4), two concurrent writers, or creating every
	// folder first, cost 30-70% more system time and no less wall time.
	for _, name := range files.Paths() {
		dst := filepath.Join(staging, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		if err := os.WriteFile(dst, files[name], 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return swap(staging, out)
}

// swap moves staging to out, keeping the old out until the new one is in
// place.
func swap(staging, out string) error {
	old := ""
	if _, err := os.Lstat(out); err == nil {
		old = staging + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("replacing %s: %w", out, err)
		}
	}
	if err := os.Rename(staging, out); err != nil {
		if old != "" {
			_ = os.Rename(old, out)
		}
		return fmt.Errorf("replacing %s: %w", out, err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("removing the previous %s: %w", out, err)
		}
	}
	return nil
}
