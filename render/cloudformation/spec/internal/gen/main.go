// Command gen writes the compact CloudFormation resource specification extract that the spec
// package embeds. It installs the npm package @aws-cdk/aws-service-spec at a pinned version into
// a temporary directory, reads its db.json.gz (AWS's resource specification as the CDK team
// publishes it) and keeps only what template checking and change classification need, for the
// resource types of the requested namespaces. It is run by go generate; nothing in the extract is
// typed by hand.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vsoc/vsoc/render/cloudformation/spec/internal/extract"
)

func main() {
	pkg := flag.String("package", "@aws-cdk/aws-service-spec", "npm package that ships db.json.gz")
	version := flag.String("version", "", "exact npm package version (required: the extract must be reproducible)")
	namespaces := flag.String("namespaces", "", "comma-separated CloudFormation namespaces to keep, e.g. AWS::EC2,AWS::IAM")
	out := flag.String("out", "spec.json.gz", "output file")
	flag.Parse()
	if *version == "" || *namespaces == "" {
		log.Fatal("gen: -version and -namespaces are required")
	}
	if err := run(*pkg, *version, strings.Split(*namespaces, ","), *out); err != nil {
		log.Fatalf("gen: %v", err)
	}
}

func run(pkg, version string, namespaces []string, out string) error {
	dir, err := os.MkdirTemp("", "aws-service-spec-")
	if err != nil {
		return fmt.Errorf("creating temporary npm prefix: %w", err)
	}
	defer os.RemoveAll(dir)

	integrity, err := npmInstall(dir, pkg, version)
	if err != nil {
		return err
	}
	raw, err := readGzip(filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "db.json.gz"))
	if err != nil {
		return err
	}
	var db database
	if err := json.Unmarshal(raw, &db); err != nil {
		return fmt.Errorf("decoding db.json: %w", err)
	}
	file, err := build(&db, namespaces)
	if err != nil {
		return err
	}
	file.Source = pkg + "@" + version
	file.Integrity = integrity
	return writeGzipJSON(out, file)
}

// npmInstall installs pkg@version under dir and returns the lockfile's integrity hash for it,
// after checking that npm resolved exactly the pinned version.
func npmInstall(dir, pkg, version string) (string, error) {
	cmd := exec.Command("npm", "install", "--prefix", dir, "--save-exact", "--no-audit", "--no-fund", pkg+"@"+version)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install %s@%s: %w", pkg, version, err)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return "", fmt.Errorf("reading npm lockfile: %w", err)
	}
	var lf struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(lock, &lf); err != nil {
		return "", fmt.Errorf("decoding npm lockfile: %w", err)
	}
	entry, ok := lf.Packages["node_modules/"+pkg]
	if !ok {
		return "", fmt.Errorf("npm lockfile has no entry for %s", pkg)
	}
	if entry.Version != version {
		return "", fmt.Errorf("npm installed %s@%s, want the pinned %s", pkg, entry.Version, version)
	}
	if entry.Integrity == "" {
		return "", fmt.Errorf("npm lockfile has no integrity hash for %s", pkg)
	}
	return entry.Integrity, nil
}

func readGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening spec database: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(zr); err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// writeGzipJSON writes v as compact JSON (encoding/json sorts map keys) gzip-compressed with an
// empty header (no name, no modification time), so the same input gives the same bytes.
func writeGzipJSON(path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding extract: %w", err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("creating gzip writer: %w", err)
	}
	if _, err := zw.Write(body); err != nil {
		return fmt.Errorf("compressing extract: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compressing extract: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// database is the part of db.json the extract needs. db.json is a serialised graph database:
// entity tables (resources, type definitions) and relations between entity ids.
type database struct {
	Schema struct {
		Resource struct {
			Entities []dbResource `json:"entities"`
		} `json:"resource"`
		TypeDefinition struct {
			Entities []dbTypeDefinition `json:"entities"`
		} `json:"typeDefinition"`
		// UsesType maps a resource id to every type definition it uses, nested ones included.
		UsesType struct {
			Forward map[string][]struct {
				ID string `json:"$id"`
			} `json:"forward"`
		} `json:"usesType"`
	} `json:"schema"`
}

type dbResource struct {
	ID                 string                 `json:"$id"`
	CloudFormationType string                 `json:"cloudFormationType"`
	Properties         map[string]dbProperty  `json:"properties"`
	Attributes         map[string]dbAttribute `json:"attributes"`
}

type dbTypeDefinition struct {
	ID         string                `json:"$id"`
	Name       string                `json:"name"`
	Properties map[string]dbProperty `json:"properties"`
}

type dbProperty struct {
	Type              dbType `json:"type"`
	Required          bool   `json:"required"`
	CausesReplacement string `json:"causesReplacement"`
}

type dbAttribute struct {
	Type dbType `json:"type"`
}

type dbType struct {
	Type      string   `json:"type"`
	Element   *dbType  `json:"element"`
	Types     []dbType `json:"types"`
	Reference *struct {
		Ref string `json:"$ref"`
	} `json:"reference"`
	// AllowedValues holds strings for string types and numbers for integer types.
	AllowedValues []json.RawMessage `json:"allowedValues"`
}

// build selects the resources of the namespaces and converts them to the extract format.
func build(db *database, namespaces []string) (*extract.File, error) {
	wanted := map[string]bool{}
	for _, ns := range namespaces {
		if strings.Count(ns, "::") != 1 {
			return nil, fmt.Errorf("namespace %q: want the form Vendor::Service", ns)
		}
		wanted[ns] = true
	}
	typeDefs := map[string]dbTypeDefinition{}
	for _, td := range db.Schema.TypeDefinition.Entities {
		typeDefs[td.ID] = td
	}
	file := &extract.File{Resources: map[string]extract.Resource{}}
	found := map[string]bool{}
	for _, r := range db.Schema.Resource.Entities {
		ns := namespaceOf(r.CloudFormationType)
		if !wanted[ns] {
			continue
		}
		found[ns] = true
		if _, dup := file.Resources[r.CloudFormationType]; dup {
			return nil, fmt.Errorf("resource type %s appears twice in the database", r.CloudFormationType)
		}
		res, err := convertResource(r, db.Schema.UsesType.Forward[r.ID], typeDefs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CloudFormationType, err)
		}
		file.Resources[r.CloudFormationType] = res
	}
	for ns := range wanted {
		if !found[ns] {
			return nil, fmt.Errorf("namespace %s has no resource types in the database", ns)
		}
		file.Namespaces = append(file.Namespaces, ns)
	}
	slices.Sort(file.Namespaces)
	return file, nil
}

func namespaceOf(cfnType string) string {
	parts := strings.Split(cfnType, "::")
	if len(parts) != 3 {
		return ""
	}
	return parts[0] + "::" + parts[1]
}

func convertResource(r dbResource, used []struct {
	ID string `json:"$id"`
}, typeDefs map[string]dbTypeDefinition) (extract.Resource, error) {
	// Nested type names are unique within a resource in the CloudFormation spec; the database
	// refers to them by entity id, the extract by name.
	names := map[string]string{}
	byName := map[string]string{}
	for _, u := range used {
		td, ok := typeDefs[u.ID]
		if !ok {
			return extract.Resource{}, fmt.Errorf("uses unknown type definition id %s", u.ID)
		}
		if other, dup := byName[td.Name]; dup && other != u.ID {
			return extract.Resource{}, fmt.Errorf("two nested types named %s (ids %s and %s)", td.Name, other, u.ID)
		}
		byName[td.Name] = u.ID
		names[u.ID] = td.Name
	}
	props, err := convertProperties(r.Properties, names)
	if err != nil {
		return extract.Resource{}, err
	}
	res := extract.Resource{Properties: props}
	if len(r.Attributes) > 0 {
		res.Attributes = map[string]extract.Type{}
		for name, a := range r.Attributes {
			t, err := convertType(a.Type, names)
			if err != nil {
				return extract.Resource{}, fmt.Errorf("attribute %s: %w", name, err)
			}
			res.Attributes[name] = t
		}
	}
	if len(names) > 0 {
		res.Types = map[string]map[string]extract.Property{}
		for id, name := range names {
			p, err := convertProperties(typeDefs[id].Properties, names)
			if err != nil {
				return extract.Resource{}, fmt.Errorf("type %s: %w", name, err)
			}
			res.Types[name] = p
		}
	}
	return res, nil
}

func convertProperties(in map[string]dbProperty, names map[string]string) (map[string]extract.Property, error) {
	out := make(map[string]extract.Property, len(in))
	for name, p := range in {
		t, err := convertType(p.Type, names)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		repl, err := convertReplacement(p.CausesReplacement)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		out[name] = extract.Property{Type: t, Required: p.Required, Replacement: repl}
	}
	return out, nil
}

func convertReplacement(v string) (string, error) {
	switch v {
	case "", "no":
		return extract.ReplaceNo, nil
	case "yes":
		return extract.ReplaceYes, nil
	case "maybe":
		return extract.ReplaceConditional, nil
	}
	return "", fmt.Errorf("unknown causesReplacement %q", v)
}

// convertAllowed turns the allowed values into their canonical text: a string as itself, an
// integer in decimal. The source order is kept (the source is pinned, so it is stable).
func convertAllowed(values []json.RawMessage) ([]string, error) {
	var out []string
	for _, raw := range values {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			out = append(out, s)
			continue
		}
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, fmt.Errorf("allowed value %s is neither a string nor an integer", raw)
		}
		out = append(out, strconv.FormatInt(n, 10))
	}
	return out, nil
}

func convertType(t dbType, names map[string]string) (extract.Type, error) {
	switch t.Type {
	case "string", "integer":
		allowed, err := convertAllowed(t.AllowedValues)
		if err != nil {
			return extract.Type{}, err
		}
		kind := extract.KindString
		if t.Type == "integer" {
			kind = extract.KindInteger
		}
		return extract.Type{Kind: kind, Allowed: allowed}, nil
	case "number":
		return extract.Type{Kind: extract.KindNumber}, nil
	case "boolean":
		return extract.Type{Kind: extract.KindBoolean}, nil
	case "json":
		return extract.Type{Kind: extract.KindJSON}, nil
	case "tag":
		return extract.Type{Kind: extract.KindTag}, nil
	case "array", "map":
		if t.Element == nil {
			return extract.Type{}, errors.New("collection type without an element type")
		}
		elem, err := convertType(*t.Element, names)
		if err != nil {
			return extract.Type{}, err
		}
		kind := extract.KindList
		if t.Type == "map" {
			kind = extract.KindMap
		}
		return extract.Type{Kind: kind, Elem: &elem}, nil
	case "ref":
		if t.Reference == nil {
			return extract.Type{}, errors.New("ref type without a reference")
		}
		name, ok := names[t.Reference.Ref]
		if !ok {
			return extract.Type{}, fmt.Errorf("reference to type id %s that the resource does not use", t.Reference.Ref)
		}
		return extract.Type{Kind: extract.KindRef, Ref: name}, nil
	case "union":
		var u []extract.Type
		for _, m := range t.Types {
			c, err := convertType(m, names)
			if err != nil {
				return extract.Type{}, err
			}
			u = append(u, c)
		}
		return extract.Type{Kind: extract.KindUnion, Union: u}, nil
	}
	return extract.Type{}, fmt.Errorf("unknown type kind %q", t.Type)
}
