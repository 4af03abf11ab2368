// Package diff previews a pull request to the customers repository: it
// compiles the fleet at the base ref (read from git objects) and the fleet in
// the working tree, compares the two output trees per customer and per
// artifact, classifies CloudFormation changes with AWS's replacement data,
// and lists destructive changes first.
package diff

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"

	"github.com/vsoc/vsoc/compiler"
	"github.com/vsoc/vsoc/internal/wording"
	"github.com/vsoc/vsoc/render"
	"github.com/vsoc/vsoc/render/cloudformation/spec"
	"github.com/vsoc/vsoc/validate"
)

// Status is what happens to a customer, a file or a document value.
type Status string

const (
	Added   Status = "added"
	Changed Status = "changed"
	Removed Status = "removed"
)

// Preview is the result of comparing base and head. Its JSON form is the
// `--format json` output.
type Preview struct {
	Base       string `json:"base"`       // the ref as given
	BaseCommit string `json:"baseCommit"` // the commit it resolved to
	Head       string `json:"head"`       // the customers folder
	// BaseNote says why the base contributed no files (new repository, or a
	// base that does not build), in which case every head file is "added".
	BaseNote string `json:"baseNote,omitempty"`
	// HeadErrors are CUE errors: the head is malformed and was not compiled.
	HeadErrors []Finding `json:"headErrors,omitempty"`
	// Violations are the head's validation result; with any, nothing is
	// rendered and the preview holds no changes.
	Violations []Finding `json:"violations,omitempty"`
	Summary    Summary   `json:"summary"`
	// Blocking lists the exports the change deletes or changes while other
	// stacks import them: CloudFormation refuses such an update, so the
	// change cannot be applied as it is.
	Blocking []Blocker `json:"blocking"`
	// Ordered lists the exports the change deletes or changes while other
	// stacks import them now but stop in the same change: vsoc-compile apply
	// updates (or deletes) those stacks before the exporting one.
	Ordered []Blocker `json:"ordered"`
	// Deletions are the stacks the change removes (customers no longer
	// declared), which vsoc-compile apply deletes with --execute
	// --allow-destroy.
	Deletions []StackDeletion `json:"deletions"`
	// Destructive lists the replacements and removals of protected resources.
	Destructive []Consequence `json:"destructive"`
	// Owners are the hub and the customers whose artifacts change: the hub
	// first, then customers by name.
	Owners []OwnerDiff `json:"owners"`
}

// Failed reports whether the head cannot be merged: it is malformed or has
// violations.
func (p *Preview) Failed() bool { return len(p.HeadErrors) > 0 || len(p.Violations) > 0 }

// Finding is a CUE error or a validation violation of the head.
type Finding struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Rule     string `json:"rule,omitempty"`
	Customer string `json:"customer,omitempty"`
	Message  string `json:"message"`
	Hint     string `json:"hint,omitempty"`
}

// Location is the file:line:col of a finding.
func (f Finding) Location() string {
	return compiler.Pos{File: f.File, Line: f.Line, Col: f.Col}.String()
}

// Summary counts the changes.
type Summary struct {
	CustomersAdded   int `json:"customersAdded"`
	CustomersChanged int `json:"customersChanged"`
	CustomersRemoved int `json:"customersRemoved"`
	FilesAdded       int `json:"filesAdded"`
	FilesChanged     int `json:"filesChanged"`
	FilesRemoved     int `json:"filesRemoved"`
	// CloudFormation resources by action.
	ResourcesAdded    int `json:"resourcesAdded"`
	ResourcesModified int `json:"resourcesModified"`
	ResourcesReplaced int `json:"resourcesReplaced"`
	ResourcesRemoved  int `json:"resourcesRemoved"`
	Destructive       int `json:"destructive"`
	Blocking          int `json:"blocking"`
}

// NoChanges reports whether base and head compile to the same files.
func (s Summary) NoChanges() bool { return s.FilesAdded+s.FilesChanged+s.FilesRemoved == 0 }

// OwnerDiff is what changes for the hub or one customer.
type OwnerDiff struct {
	Name      string         `json:"name"` // "hub" for the hub
	Hub       bool           `json:"hub,omitempty"`
	Status    Status         `json:"status"`
	Artifacts []ArtifactDiff `json:"artifacts"` // sorted by path
}

// ArtifactDiff is one rendered file that is added, changed or removed.
type ArtifactDiff struct {
	Kind   Kind   `json:"kind"`
	Path   string `json:"path"` // relative to the build output
	Status Status `json:"status"`
	// Resources are a stack's CloudFormation changes, by logical ID.
	Resources []ResourceChange `json:"resources,omitempty"`
	// Differences are the changes inside a changed file (for a stack, those
	// outside its resources, such as outputs).
	Differences []Difference `json:"differences,omitempty"`
}

// ResourceChange is what CloudFormation does to one resource of a stack.
type ResourceChange struct {
	LogicalID   string       `json:"logicalId"`
	Type        string       `json:"type"`
	Name        string       `json:"name,omitempty"` // its Name tag
	Action      string       `json:"action"`         // add, modify, replace, remove
	Properties  []string     `json:"properties,omitempty"`
	Replacing   []string     `json:"replacing,omitempty"`
	Conditional bool         `json:"conditional,omitempty"`
	Destructive bool         `json:"destructive,omitempty"`
	Differences []Difference `json:"differences,omitempty"`
	// subnet is what a destructive subnet change takes with it, for its
	// consequence.
	subnet subnetContents
}

// Consequence is a destructive change in words: what goes down.
type Consequence struct {
	Owner       string   `json:"owner"`
	Stack       string   `json:"stack"`
	LogicalID   string   `json:"logicalId"`
	Type        string   `json:"type"`
	Name        string   `json:"name,omitempty"`
	Action      string   `json:"action"` // replace or remove
	Replacing   []string `json:"replacing,omitempty"`
	Conditional bool     `json:"conditional,omitempty"`
	Message     string   `json:"message"`
}

// StackDeletion is a stack the change removes, in words: what apply does
// with it.
type StackDeletion struct {
	Owner     string `json:"owner"`
	Stack     string `json:"stack"`
	Resources int    `json:"resources"`
	Message   string `json:"message"`
}

// Options configure Run.
type Options struct {
	// Dir is the head: a customers folder inside a git work tree.
	Dir string
	// Base is the git ref to compare with, e.g. origin/main.
	Base      string
	Validator *validate.Validator
	// Cache is shared by both builds, so that files unchanged between base
	// and head are compiled once.
	Cache *compiler.Cache
}

// Run compiles the head and the base and compares them. Malformed head files
// and violations are findings in the preview, not errors; an error is a base
// ref that does not exist (ErrUnknownRef), an unreadable folder or a bug.
func Run(ctx context.Context, opts Options) (*Preview, error) {
	headSources, err := compiler.ReadDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	base, err := ReadRef(ctx, opts.Dir, opts.Base)
	if err != nil {
		return nil, err
	}
	p := &Preview{Base: opts.Base, BaseCommit: base.Commit, Head: opts.Dir, Deletions: []StackDeletion{}, Destructive: []Consequence{}, Blocking: []Blocker{}, Ordered: []Blocker{}, Owners: []OwnerDiff{}}

	head, err := render.Build(ctx, opts.Validator, opts.Dir, headSources, opts.Cache)
	var loadErrs compiler.LoadErrors
	if errors.As(err, &loadErrs) {
		p.HeadErrors = loadFindings(loadErrs)
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", opts.Dir, err)
	}
	if len(head.Violations) > 0 {
		p.Violations = violationFindings(head.Violations)
		return p, nil
	}

	var baseFleet *compiler.Fleet
	var baseFiles render.Files
	switch {
	case !base.Exists:
		p.BaseNote = fmt.Sprintf("%s does not exist at %s: everything is new", opts.Dir, opts.Base)
	case len(base.Sources) == 0:
		p.BaseNote = fmt.Sprintf("%s has no .cue files at %s: everything is new", opts.Dir, opts.Base)
	default:
		// The base was validated when it was merged: it is loaded (files
		// unchanged in the head come from the cache) and rendered, not
		// validated again.
		baseFleet, err = compiler.Load(ctx, opts.Dir, withHubInHubFile(withoutVendoredSchema(base.Sources)), opts.Cache)
		if errors.As(err, &loadErrs) {
			p.BaseNote = fmt.Sprintf("the base (%s) does not compile (%s, the first: %s): every file is shown as added",
				opts.Base, wording.Count(len(loadErrs), "error"), loadErrs[0].Error())
			baseFleet = nil
			break
		}
		if err != nil {
			return nil, fmt.Errorf("compiling %s at %s: %w", opts.Dir, opts.Base, err)
		}
		if baseFiles, err = renderBase(head, baseFleet, render.Targets()); err != nil {
			p.BaseNote = fmt.Sprintf("the base (%s) does not build (%v): every file is shown as added", opts.Base, err)
			baseFiles = nil
		}
	}

	sp, err := spec.Load()
	if err != nil {
		return nil, err
	}
	c := comparison{spec: sp, owners: newOwnerIndex(baseFleet, head.Fleet)}
	if err := c.compare(p, baseFiles, head.Files); err != nil {
		return nil, err
	}
	return p, nil
}

func loadFindings(errs compiler.LoadErrors) []Finding {
	out := make([]Finding, len(errs))
	for i, e := range errs {
		out[i] = Finding{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Customer: e.Customer, Message: e.Message, Hint: e.Hint}
	}
	return out
}

func violationFindings(vs []validate.Violation) []Finding {
	out := make([]Finding, len(vs))
	for i, v := range vs {
		out[i] = Finding{File: v.Pos.File, Line: v.Pos.Line, Col: v.Pos.Col, Rule: v.Rule, Customer: v.Customer, Message: v.Message, Hint: v.Hint}
	}
	return out
}

// withHubInHubFile reads a base from before vsoc required the hub in hub.cue as the vsoc that
// merged it did: when the base has no hub.cue and exactly one file declares the hub and no
// customer, that file is compiled as hub.cue. Otherwise the pull request that moves the hub into
// hub.cue, which changes nothing, would preview every file as added because its base does not
// compile.
func withHubInHubFile(sources []compiler.Source) []compiler.Source {
	hubAt := -1
	for i, s := range sources {
		if filepath.Base(s.Name) == compiler.HubFile {
			return sources
		}
		if declaresOnlyTheHub(s) {
			if hubAt >= 0 {
				return sources // two hubs: the base does not compile either way
			}
			hubAt = i
		}
	}
	if hubAt < 0 {
		return sources
	}
	out := slices.Clone(sources)
	out[hubAt].Name = filepath.Join(filepath.Dir(out[hubAt].Name), compiler.HubFile)
	return out
}

// declaresOnlyTheHub reports whether src's top level declares hub and not customers; false for a
// file that does not parse.
func declaresOnlyTheHub(src compiler.Source) bool {
	file, err := parser.ParseFile(src.Name, src.Content)
	if err != nil {
		return false
	}
	hub := false
	for _, decl := range file.Decls {
		field, ok := decl.(*ast.Field)
		if !ok {
			continue
		}
		switch name, _, _ := ast.LabelName(field.Label); name {
		case "hub":
			hub = true
		case "customers":
			return false
		}
	}
	return hub
}

// withoutVendoredSchema leaves out the customers repository's copy of the schema: the base is
// compiled with this binary's schema whatever copy it vendored, and in the pull request that
// upgrades vsoc the base's copy is the older version's, which would fail the whole base.
func withoutVendoredSchema(sources []compiler.Source) []compiler.Source {
	return slices.DeleteFunc(slices.Clone(sources), func(s compiler.Source) bool {
		return filepath.Base(s.Name) == compiler.SchemaFile
	})
}
