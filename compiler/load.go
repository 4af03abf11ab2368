package compiler

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"golang.org/x/sync/errgroup"

	"github.com/vsoc/vsoc/internal/wording"
	"github.com/vsoc/vsoc/schema"
)

// SchemaFile is the name of the vendored copy of the schema in a customers
// repository (for `cue vet` and editors). The compiler always uses its own
// embedded schema, and refuses a vendored copy that differs from it.
const SchemaFile = "schema.cue"

// Source is one file of a customers repository.
type Source struct {
	Name    string // as shown in messages: relative to the working directory
	Content []byte
}

// fileResult is what one file contributes to the fleet.
type fileResult struct {
	hub       *Hub
	customer  *Customer
	positions *Positions
}

// Cache remembers compiled files by content, so that an unchanged file is
// compiled once: across the two versions of a fleet that diff compares
// (in memory), and across runs when it has a folder. It is safe for
// concurrent use.
type Cache struct {
	dir     string
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*fileResult
}

// NewCache returns a cache; dir, when not empty, keeps compiled files across
// runs (one small JSON file per file version).
func NewCache(dir string) *Cache {
	return &Cache{dir: dir, entries: map[[sha256.Size]byte]*fileResult{}}
}

// DefaultCacheDir is where the command line keeps compiled files; empty when
// the user has no cache folder (no HOME, as in a bare container), since the
// cache only saves time.
func DefaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "vsoc", "compiled")
}

// cacheFormat changes whenever the cached form or the model changes, so that
// an old cache entry is never decoded into a new model.
// It also changes when the loader stops accepting a file it cached (v2: the
// hub is accepted from hub.cue only), so that a stale entry cannot let it in.
const cacheFormat = "vsoc-compiled-v2"

// cacheKey covers everything a compiled file depends on: the schema, the
// cached form, the file's name (positions carry it) and its content.
func cacheKey(src Source) [sha256.Size]byte {
	var h hash.Hash
	// The schema is several times the size of a customer file: its part of
	// the hash is computed once and cloned.
	if c, ok := sharedKeyHash().(hash.Cloner); ok {
		if clone, err := c.Clone(); err == nil {
			h = clone
		}
	}
	if h == nil { // a FIPS 140 v1.0.0 module cannot clone
		h = newKeyHash()
	}
	writeKeyPart(h, []byte(src.Name))
	writeKeyPart(h, src.Content)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// newKeyHash is a key's hash after the parts every key shares.
func newKeyHash() hash.Hash {
	h := sha256.New()
	writeKeyPart(h, []byte(cacheFormat))
	writeKeyPart(h, schema.Source)
	return h
}

var sharedKeyHash = sync.OnceValue(newKeyHash)

// writeKeyPart writes one length-prefixed part of a key.
func writeKeyPart(h hash.Hash, part []byte) {
	fmt.Fprintf(h, "%d:", len(part))
	h.Write(part)
}

// cachedFile is the on-disk form of a fileResult.
type cachedFile struct {
	Hub       *Hub           `json:"hub,omitempty"`
	Customer  *Customer      `json:"customer,omitempty"`
	Positions map[string]Pos `json:"positions"`
}

func (c *Cache) get(key [sha256.Size]byte) (*fileResult, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	r, ok := c.entries[key]
	c.mu.Unlock()
	if ok || c.dir == "" {
		return r, ok
	}
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, false
	}
	var cf cachedFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, false // a damaged entry is recompiled and rewritten
	}
	r = &fileResult{hub: cf.Hub, customer: cf.Customer, positions: &Positions{byPointer: cf.Positions}}
	c.mu.Lock()
	c.entries[key] = r
	c.mu.Unlock()
	return r, true
}

func (c *Cache) put(key [sha256.Size]byte, r *fileResult) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.entries[key] = r
	c.mu.Unlock()
	if c.dir == "" {
		return
	}
	b, err := json.Marshal(cachedFile{Hub: r.hub, Customer: r.customer, Positions: r.positions.byPointer})
	if err != nil {
		return
	}
	// The cache only saves time: failing to write it never fails a run.
	_ = writeFileAtomic(c.path(key), b)
}

func (c *Cache) path(key [sha256.Size]byte) string {
	name := hex.EncodeToString(key[:])
	return filepath.Join(c.dir, name[:2], name+".json")
}

// writeFileAtomic writes through a temporary file and a rename, so that a
// concurrent reader never sees half a file.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadError is malformed input: CUE's own message with its position.
type LoadError struct {
	Pos      Pos
	Pointer  string // the value it is about, as a JSON pointer into the model ("/customers/acme/vpc"), when known
	Customer string // the customer whose declaration it is about, when it is one
	Message  string
	Hint     string // how to fix it, when there is more to say than the message
}

// about records the value at path (from the file's root: customers, acme, vpc) as the one e is
// about.
func (e *LoadError) about(path ...string) {
	elems := make([]any, len(path))
	for i, p := range path {
		elems[i] = p
	}
	e.Pointer = Pointer(elems...)
	if len(path) >= 2 && path[0] == "customers" {
		e.Customer = path[1]
	}
}

func (e LoadError) Error() string {
	if e.Hint != "" {
		return fmt.Sprintf("%s: %s (hint: %s)", e.Pos, e.Message, e.Hint)
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Message)
}

// LoadErrors are all the load errors of a run, sorted by position.
type LoadErrors []LoadError

func (e LoadErrors) Error() string {
	lines := make([]string, len(e))
	for i, le := range e {
		lines[i] = le.Error()
	}
	return strings.Join(lines, "\n")
}

// IsSourceName reports whether a file of a customers folder, by its base
// name, is one of its CUE files: *.cue, except names starting with '.' or
// '_', which cue/load (cue vet, cue export) leaves out too. Editors keep such
// files beside the ones they edit (Emacs' lock file .#acme.cue, a dangling
// symbolic link), and a copy .acme.cue would declare acme a second time.
// compiler.ReadDir and diff's listing of the base use it, so that head and
// base are the same set of files.
func IsSourceName(name string) bool {
	return filepath.Ext(name) == ".cue" && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_")
}

// ReadDir reads the customer files of dir (every *.cue file directly in it
// that IsSourceName accepts).
func ReadDir(dir string) ([]Source, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading customers folder: %w", err)
	}
	var sources []Source
	for _, e := range entries {
		if e.IsDir() || !IsSourceName(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		content, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		sources = append(sources, Source{Name: path, Content: content})
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("%s: no .cue files (names starting with . or _ are left out): expected hub.cue and one <customer>.cue per customer", dir)
	}
	return sources, nil
}

// LoadDir reads and loads a customers folder.
func LoadDir(ctx context.Context, dir string, cache *Cache) (*Fleet, error) {
	sources, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return Load(ctx, dir, sources, cache)
}

// Load compiles every source on its own against the embedded schema, in
// parallel, and assembles the fleet. Every malformed file is reported, not
// just the first.
func Load(ctx context.Context, dir string, sources []Source, cache *Cache) (*Fleet, error) {
	results := make([]*fileResult, len(sources))
	errs := make([]LoadErrors, len(sources))
	work := make(chan int)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for i := range sources {
			select {
			case work <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			var c *fileCompiler
			for i := range work {
				if c == nil || c.compiled >= filesPerContext {
					var err error
					if c, err = newFileCompiler(); err != nil {
						return err
					}
				}
				results[i], errs[i] = c.compileCached(sources[i], cache)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all LoadErrors
	for _, e := range errs {
		all = append(all, e...)
	}
	fleet, assembleErrs := assemble(dir, sources, results)
	all = append(all, assembleErrs...)
	if len(all) > 0 {
		sortLoadErrors(all)
		return nil, all
	}
	return fleet, nil
}

func sortLoadErrors(errs LoadErrors) {
	slices.SortStableFunc(errs, func(a, b LoadError) int { return a.Pos.Compare(b.Pos) })
}

// fileCompiler holds one CUE context: a context is not safe for concurrent
// use, so each worker has its own, with the schema compiled once.
type fileCompiler struct {
	ctx *cue.Context
	// hub and customer are the schema's definitions. A declaration is
	// unified with its definition alone, not with the whole schema: that
	// skips re-evaluating the schema's pattern constraints and saves about a
	// quarter of the time of a file.
	hub, customer cue.Value
	// empty is the empty struct, which a customer's name is filled into.
	empty cue.Value
	// fields knows the model's struct types, for decoding.
	fields fieldIndex
	// compiled counts the files built in ctx, which keeps about 30 KB of
	// every one of them for its own lifetime.
	compiled int
}

// filesPerContext is how many files a worker compiles in one CUE context
// before it starts a fresh one. A context never releases what it built: at
// 10,000 customers two contexts held over 300 MB, and the collector then
// spent more time marking them than the compiler spent compiling. Compiling
// the schema again costs about as much as one customer file.
const filesPerContext = 256

func newFileCompiler() (*fileCompiler, error) {
	ctx := cuecontext.New()
	v := ctx.CompileBytes(schema.Source, cue.Filename(schema.Filename))
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("compiling the embedded schema: %w", err)
	}
	return &fileCompiler{
		ctx:      ctx,
		hub:      v.LookupPath(cue.ParsePath("#Hub")),
		customer: v.LookupPath(cue.ParsePath("#Customer")),
		empty:    ctx.CompileString("{}"),
		fields:   fieldIndex{},
	}, nil
}

func (c *fileCompiler) compileCached(src Source, cache *Cache) (*fileResult, LoadErrors) {
	if filepath.Base(src.Name) == SchemaFile {
		return nil, checkVendoredSchema(src)
	}
	key := cacheKey(src)
	if r, ok := cache.get(key); ok {
		return r, nil
	}
	r, errs := c.compile(src)
	if errs == nil {
		cache.put(key, r)
	}
	return r, errs
}

// checkVendoredSchema refuses a vendored schema that differs from the built-in one; line endings
// and a byte-order mark do not count, since git may convert them on checkout (core.autocrlf,
// eol=crlf) and refreshing the file would not change that.
func checkVendoredSchema(src Source) LoadErrors {
	vendored := bytes.ReplaceAll(bytes.TrimPrefix(src.Content, []byte("\ufeff")), []byte("\r\n"), []byte("\n"))
	if bytes.Equal(vendored, []byte(schema.Source)) {
		return nil
	}
	if errs := declaredInSchemaFile(src); errs != nil {
		return errs
	}
	return LoadErrors{{
		Pos: Pos{File: src.Name, Line: 1, Col: 1},
		Message: "this vendored schema differs from the one built into vsoc-compile; " +
			"refresh it with `vsoc-compile schema > " + src.Name + "`",
	}}
}

// declaredInSchemaFile reports a schema.cue that is a customer's file (or
// the hub's) rather than a copy of the schema: a customer named schema. The
// stale-schema error would tell to overwrite it with `vsoc-compile schema`,
// deleting the customer. A schema, whatever its version, names no customer
// (customers are a pattern there) and declares definitions; nil when the file
// looks like one, or does not parse.
func declaredInSchemaFile(src Source) LoadErrors {
	file, err := parser.ParseFile(src.Name, src.Content)
	if err != nil {
		return nil
	}
	positions := indexFile(file, src.Name)
	var customers []string
	definitions := false
	for pointer := range positions.byPointer {
		elems := strings.Split(pointer, "/")
		switch {
		case len(elems) == 3 && elems[1] == "customers":
			customers = append(customers, pointer)
		case len(elems) == 2 && strings.HasPrefix(elems[1], "#"):
			definitions = true
		}
	}
	base := filepath.Base(src.Name)
	restore := fmt.Sprintf("then restore the vendored schema with `vsoc-compile schema > %s`", src.Name)
	if len(customers) > 0 {
		slices.SortFunc(customers, func(a, b string) int { return positions.byPointer[a].Compare(positions.byPointer[b]) })
		return LoadErrors{{Pos: positions.byPointer[customers[0]],
			Message: base + " is the vendored schema's file name; a customer cannot be named schema",
			Hint:    "give the customer another name, in a file of that name (customers: \"<name>\": {...} in <name>.cue), " + restore}}
	}
	if _, ok := positions.byPointer["/hub"]; ok && !definitions {
		return LoadErrors{{Pos: positions.byPointer["/hub"],
			Message: base + " is the vendored schema's file name; the hub belongs in " + HubFile,
			Hint:    "move `hub: {...}` into " + HubFile + ", " + restore}}
	}
	return nil
}

func (c *fileCompiler) compile(src Source) (*fileResult, LoadErrors) {
	c.compiled++
	file, err := parser.ParseFile(src.Name, src.Content, parser.ParseComments)
	if err != nil {
		return nil, fromCUE(err, src.Name)
	}
	if file.PackageName() != schema.Package {
		return nil, LoadErrors{{Pos: Pos{File: src.Name, Line: 1, Col: 1},
			Message: fmt.Sprintf("package %q: customer files belong to package %q; start the file with `package %s`",
				file.PackageName(), schema.Package, schema.Package)}}
	}
	v := c.ctx.BuildFile(file)
	if err := v.Err(); err != nil {
		return nil, hintReferences(fromCUE(err, src.Name))
	}
	positions := indexFile(file, src.Name)
	if errs := checkDeclarations(v, src.Name, positions); errs != nil {
		return nil, errs
	}
	return c.decodeFile(v, src.Name, positions)
}

// HubFile is the one file of a customers repository that declares the hub.
const HubFile = "hub.cue"

// unresolvedReference is CUE's message for an identifier the file does not
// declare: `reference "#Customer" not found`.
var unresolvedReference = regexp.MustCompile(`reference "([^"]*)" not found$`)

// hintReferences explains a reference that is not found. `cue vet` evaluates
// the folder as one package, with the vendored schema, so a file may refer to
// #Customer or to a value of another file there; vsoc compiles each file on
// its own and applies the schema's definitions itself.
func hintReferences(errs LoadErrors) LoadErrors {
	for i, e := range errs {
		m := unresolvedReference.FindStringSubmatch(e.Message)
		if m == nil || e.Hint != "" {
			continue
		}
		hint := "each file is compiled on its own, and vsoc applies the schema's definitions to it, " +
			"so a file cannot refer to definitions (#...) or to values of other files, as it can under `cue vet`"
		if strings.HasPrefix(m[1], "#") {
			hint += fmt.Sprintf(": leave %s out (vsoc checks `customers: %q` against #Customer and `hub` against #Hub itself)",
				m[1], strings.TrimSuffix(filepath.Base(e.Pos.File), ".cue"))
		} else {
			hint += fmt.Sprintf(": write the value here instead of %s", m[1])
		}
		errs[i].Hint = hint
	}
	return errs
}

// checkDeclarations checks that the file declares the hub (hub.cue only) or
// exactly the one customer it is named after, before the schema's errors
// about the wrong customer's missing fields would drown that.
func checkDeclarations(v cue.Value, name string, positions *Positions) LoadErrors {
	base := strings.TrimSuffix(filepath.Base(name), ".cue")
	hasHub := v.LookupPath(cue.ParsePath("hub")).Exists()
	if hasHub && filepath.Base(name) != HubFile {
		// Accepting the hub wherever it is declared made the alphabetically
		// first file win, and blamed hub.cue for the "second" hub.
		return LoadErrors{{Pos: mustPos(positions, "/hub", name), Pointer: "/hub",
			Message: fmt.Sprintf("%s declares the hub, which belongs in %s", filepath.Base(name), HubFile),
			Hint: fmt.Sprintf("move `hub: {...}` into %s (or delete it here if %s declares the hub already): %s declares only `customers: %q: {...}`",
				HubFile, HubFile, filepath.Base(name), base)}}
	}
	cv := v.LookupPath(cue.ParsePath("customers"))
	if !cv.Exists() {
		if hasHub {
			return nil
		}
		return LoadErrors{{Pos: Pos{File: name, Line: 1, Col: 1},
			Message: fmt.Sprintf("declares neither the hub nor a customer: a customer file holds `customers: %q: {...}`", base)}}
	}
	var names []string
	it, err := cv.Fields()
	if err != nil {
		return fromCUE(err, name)
	}
	for it.Next() {
		names = append(names, it.Selector().Unquoted())
	}
	if len(names) == 1 && names[0] == base {
		return nil
	}
	return LoadErrors{{Pos: mustPos(positions, "/customers", name), Message: fmt.Sprintf(
		"%s declares customers %s: each customer file declares exactly one customer, named after the file (customers: %q: {...} in %s.cue)",
		filepath.Base(name), quoteList(names), base, base)}}
}

// decodeFile checks the hub and the customer a file declares against their
// definitions and decodes them.
func (c *fileCompiler) decodeFile(v cue.Value, name string, positions *Positions) (*fileResult, LoadErrors) {
	r := &fileResult{positions: positions}
	if hv := v.LookupPath(cue.ParsePath("hub")); hv.Exists() {
		var hub Hub
		if errs := c.check(c.hub, c.hub.Unify(hv), &hub, name, positions, "hub"); errs != nil {
			return nil, errs
		}
		hub.File = name
		r.hub = &hub
	}
	base := strings.TrimSuffix(filepath.Base(name), ".cue")
	if cv := v.LookupPath(cue.MakePath(cue.Str("customers"), cue.Str(base))); cv.Exists() {
		var cust Customer
		// The schema's pattern `customers: [Name=string]: #Customer & {name: Name}`.
		// The name is unified with the file's small value rather than
		// filled into the definition: that evaluated all of #Customer once
		// more per file, a sixth of a file's cost. {name: Name} comes
		// before the file's value, as it did, so that a conflict is
		// reported with the file's value first.
		decl := c.empty.FillPath(cue.ParsePath("name"), base).Unify(cv)
		if errs := c.check(c.customer, c.customer.Unify(decl), &cust, name, positions, "customers", base); errs != nil {
			return nil, errs
		}
		cust.File = name
		r.customer = &cust
	}
	return r, nil
}

// check validates a declaration unified with its definition def and decodes
// it; path is where the declaration sits in the file. CUE reports the errors
// under the definition's path (#Customer.vpn…), which is replaced by path.
func (c *fileCompiler) check(def, v cue.Value, into any, file string, positions *Positions, path ...string) LoadErrors {
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return fromCUEWithin(err, file, positions, def, path)
	}
	if c.fields.decodeModel(v, into) {
		return nil
	}
	if err := decodeJSON(v, into); err != nil {
		le := LoadError{Message: err.Error()}
		le.about(path...)
		le.Pos = mustPos(positions, le.Pointer, file)
		return LoadErrors{le}
	}
	return nil
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// decodeJSON goes through JSON rather than Value.Decode so that the model's
// own UnmarshalJSON methods apply.
func decodeJSON(v cue.Value, into any) error {
	b, err := v.MarshalJSON()
	if err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	return nil
}

// fromCUEWithin is fromCUE for the errors of a declaration (at prefix in the
// file) unified with its definition: the definition's own path (strip
// elements) is replaced by prefix, so that paths are given from the file's root,
// and an error whose positions are all in the schema (a required field left
// out) is placed at the nearest value the file wrote on its path.
func fromCUEWithin(err error, file string, positions *Positions, def cue.Value, prefix []string) LoadErrors {
	strip := len(def.Path().Selectors())
	var out LoadErrors
	for _, e := range cueerrors.Errors(err) {
		rel := e.Path()
		if len(rel) >= strip {
			rel = rel[strip:]
		}
		path := append(slices.Clone(prefix), rel...)
		le := fromCUEError(e, file, path)
		if inSchemaOnly(e, file) {
			le.Pos = mustPos(positions, le.Pointer, file)
			if strings.Contains(le.Message, "incomplete value") {
				le.Message += " (a required value is missing: set it)"
			}
		}
		if format, _ := e.Msg(); format == fieldNotAllowed && len(rel) > 0 {
			le.Hint = hintUnknownField(def, rel)
		}
		out = append(out, le)
	}
	if len(out) == 0 {
		out = LoadErrors{{Pos: Pos{File: file, Line: 1, Col: 1}, Message: err.Error()}}
	}
	return collapseChoices(out)
}

// fieldNotAllowed is CUE's message for a field that a closed struct (a definition) does not
// declare.
const fieldNotAllowed = "field not allowed"

// hintUnknownField says which field a field that def does not allow at rel (a path within def)
// was likely meant to be, or which fields are allowed there when none is close.
func hintUnknownField(def cue.Value, rel []string) string {
	parent := def
	for _, elem := range rel[:len(rel)-1] {
		parent = lookupElem(parent, elem)
	}
	var allowed []string
	for it, _ := parent.Fields(cue.Optional(true)); it != nil && it.Next(); {
		allowed = append(allowed, it.Selector().Unquoted())
	}
	if len(allowed) == 0 {
		return ""
	}
	name := rel[len(rel)-1]
	if best, ok := wording.Closest(name, allowed); ok {
		return fmt.Sprintf("did you mean %q?", best)
	}
	const listed = 12 // more is a wall of names; the schema lists them all
	if len(allowed) > listed {
		return fmt.Sprintf("%s allows %s, and more (`vsoc-compile schema` lists them)", describePlace(rel), strings.Join(allowed[:listed], ", "))
	}
	return fmt.Sprintf("%s allows %s", describePlace(rel), strings.Join(allowed, ", "))
}

// describePlace names the struct that holds the field at rel.
func describePlace(rel []string) string {
	if len(rel) == 1 {
		return "this declaration"
	}
	return strings.Join(rel[:len(rel)-1], ".")
}

// lookupElem is v's value for one element of an error's path: a list index, a field, or the
// value of any field of a struct whose fields are a pattern ([Name=string]: ...).
func lookupElem(v cue.Value, elem string) cue.Value {
	if _, err := strconv.Atoi(elem); err == nil {
		if e := v.LookupPath(cue.MakePath(cue.AnyIndex)); e.Exists() {
			return e
		}
	}
	if f := v.LookupPath(cue.MakePath(cue.Str(elem))); f.Exists() {
		return f
	}
	return v.LookupPath(cue.MakePath(cue.AnyString))
}

// collapseChoices turns CUE's report of an empty disjunction (a header "N
// errors in empty disjunction:" and then the N errors of the alternatives,
// nested disjunctions included) into one error, so that one problem is one
// finding:
//
//   - a value that is none of the literals a field allows lists them
//     ("routing: "ospf" is not one of "bgp", "static"");
//   - an alternative that another one covers is left out: a literal of the
//     same type as a type the value conflicts with (`bool | *false` given
//     "yes" keeps `conflicting values "yes" and bool`), a number that
//     satisfies the bound the value is out of (`#ASN | *65000` keeps the
//     bound), a default list whose length differs when the value failed
//     inside an element of the other alternative;
//   - one alternative left is that error, as CUE gives it, at its position;
//   - several are joined into one message at the disjunction's position.
func collapseChoices(errs LoadErrors) LoadErrors {
	out := make(LoadErrors, 0, len(errs))
	for i := 0; i < len(errs); i++ {
		head := errs[i]
		path, rest := splitPath(head.Message)
		var n int
		if _, err := fmt.Sscanf(rest, "%d errors in empty disjunction:", &n); err != nil || n <= 0 || i+n >= len(errs) {
			out = append(out, head)
			continue
		}
		out = append(out, mergeAlternatives(head, path, collapseChoices(errs[i+1:i+1+n])))
		i += n
	}
	return out
}

// splitPath splits "a.b.c: message" into its path and message.
func splitPath(message string) (string, string) {
	path, msg, ok := strings.Cut(message, ": ")
	if !ok {
		return "", message
	}
	return path, msg
}

// conflict is CUE's "conflicting values A and B", optionally followed by
// "(mismatched types X and Y)".
var conflict = regexp.MustCompile(`^conflicting values (.+?) and (.+?)( \(mismatched types \w+ and \w+\))?$`)

// literal is a scalar CUE literal as CUE prints it in a message.
var literal = regexp.MustCompile(`^("[^"]*"|-?[0-9.]+(e[+-]?[0-9]+)?|true|false|null)$`)

// outOfBound is CUE's message for a number outside a bound.
var outOfBound = regexp.MustCompile(`^invalid value (\S+) \(out of bound (<=|<|>=|>)(-?[0-9.]+(e[+-]?[0-9]+)?)\)$`)

// alternative is one alternative's error, read.
type alternative struct {
	err      LoadError
	path     string
	msg      string
	value    string // conflicts: the side shared by the alternatives
	other    string // conflicts: what the value conflicts with
	mismatch string // conflicts: " (mismatched types X and Y)", if any
}

func (a alternative) isConflict() bool { return a.value != "" }

// concrete reports whether what a value conflicts with is one value (a
// literal, or a list of literals), not a type or a pattern.
func concrete(s string) bool {
	if literal.MatchString(s) {
		return true
	}
	return strings.HasPrefix(s, "[") && !strings.Contains(s, "...") && !typeName.MatchString(s)
}

var typeName = regexp.MustCompile(`\b(string|int|bool|number|float|bytes)\b`)

// readAlternatives reads the alternatives' errors; the value of the
// conflicts is the side they all share (CUE puts it first or second).
func readAlternatives(alts LoadErrors) []alternative {
	out := make([]alternative, len(alts))
	var pairs [][2]string
	mismatched := false // the last conflict is a type mismatch
	for i, e := range alts {
		out[i].err = e
		out[i].path, out[i].msg = splitPath(e.Message)
		if m := conflict.FindStringSubmatch(out[i].msg); m != nil {
			pairs = append(pairs, [2]string{m[1], m[2]})
			out[i].mismatch = m[3]
			mismatched = m[3] != ""
		}
	}
	value := ""
	if len(pairs) > 0 {
		for _, candidate := range pairs[0] {
			shared := true
			for _, p := range pairs[1:] {
				shared = shared && (p[0] == candidate || p[1] == candidate)
			}
			if shared && len(pairs) > 1 {
				value = candidate
				break
			}
		}
		if len(pairs) == 1 {
			// Nothing to compare with: CUE gives the value first in a
			// type mismatch, second in a conflict between two values of
			// one type.
			value = pairs[0][1]
			if mismatched {
				value = pairs[0][0]
			}
		}
	}
	if value == "" {
		for i := range out {
			out[i].mismatch = ""
		}
		return out
	}
	for i := range out {
		m := conflict.FindStringSubmatch(out[i].msg)
		if m == nil {
			continue
		}
		out[i].value = value
		out[i].other = m[1]
		if m[1] == value {
			out[i].other = m[2]
		}
	}
	return out
}

func mergeAlternatives(head LoadError, path string, errs LoadErrors) LoadError {
	if len(errs) == 0 {
		return head
	}
	// The merged error is about the value head is about.
	restated := func(msg, hint string) LoadError {
		merged := head
		merged.Message, merged.Hint = msg, hint
		return merged
	}
	alts := readAlternatives(errs)
	samePlace := true
	for _, a := range alts {
		samePlace = samePlace && a.err.Pos == head.Pos && a.path == path
	}
	if value, choices, ok := literalChoices(alts); ok && samePlace {
		return restated(fmt.Sprintf("%s: %s is not one of %s", path, value, strings.Join(choices, ", ")), "use one of them")
	}
	var kept []alternative
	for i, a := range alts {
		if !coveredByAnother(i, alts, path) {
			kept = append(kept, a)
		}
	}
	if len(kept) == 1 {
		return kept[0].err
	}
	conflicts := samePlace
	for _, a := range kept {
		conflicts = conflicts && a.isConflict()
	}
	if conflicts {
		others := make([]string, len(kept))
		for i, a := range kept {
			others[i] = a.other
		}
		return restated(fmt.Sprintf("%s: conflicting values %s and (%s)", path, kept[0].value, strings.Join(others, " | ")), "")
	}
	parts := make([]string, len(kept))
	for i, a := range kept {
		parts[i] = a.msg
		if rel, ok := strings.CutPrefix(a.path, path+"."); ok && path != "" {
			parts[i] = rel + ": " + a.msg
		}
	}
	return restated(fmt.Sprintf("%s: no alternative allows it: %s", path, strings.Join(parts, "; ")), "")
}

// coveredByAnother reports whether alternative i says nothing another one
// does not say better.
func coveredByAnother(i int, alts []alternative, path string) bool {
	a := alts[i]
	for j, b := range alts {
		if j == i {
			continue
		}
		switch {
		// A literal of the type the value conflicts with in b.
		// (CUE may give b the list's path for an element's value: the
		// position is the value's.)
		case a.isConflict() && b.isConflict() && a.err.Pos == b.err.Pos &&
			a.mismatch != "" && a.mismatch == b.mismatch && concrete(a.other) && !concrete(b.other):
			return true
		// A number that satisfies the bound the value is out of in b.
		case a.isConflict() && a.mismatch == "" && a.err.Pos == b.err.Pos && a.path == b.path && satisfiesBound(a.other, a.value, b.msg):
			return true
		// A list of another length, when the value failed inside b's list.
		case a.path == path && strings.HasPrefix(a.msg, "incompatible list lengths") && strings.HasPrefix(b.path, path+"."):
			return true
		}
	}
	return false
}

// satisfiesBound reports whether the number n is inside the bound that
// message says value is outside of.
func satisfiesBound(n, value, message string) bool {
	m := outOfBound.FindStringSubmatch(message)
	if m == nil || m[1] != value {
		return false
	}
	x, err1 := strconv.ParseFloat(n, 64)
	bound, err2 := strconv.ParseFloat(m[3], 64)
	if err1 != nil || err2 != nil {
		return false
	}
	switch m[2] {
	case "<=":
		return x <= bound
	case "<":
		return x < bound
	case ">=":
		return x >= bound
	default:
		return x > bound
	}
}

// literalChoices reads the allowed literals and the value from the
// alternatives of one empty disjunction; false when any of them is not a
// conflict between the value and a literal.
func literalChoices(alts []alternative) (string, []string, bool) {
	choices := make([]string, 0, len(alts))
	for _, a := range alts {
		if !a.isConflict() || !literal.MatchString(a.other) || !literal.MatchString(a.value) {
			return "", nil, false
		}
		choices = append(choices, a.other)
	}
	slices.SortFunc(choices, func(a, b string) int {
		x, errX := strconv.ParseFloat(a, 64)
		y, errY := strconv.ParseFloat(b, 64)
		if errX == nil && errY == nil {
			return cmp.Compare(x, y)
		}
		return strings.Compare(a, b)
	})
	return alts[0].value, choices, true
}

func inSchemaOnly(e cueerrors.Error, file string) bool {
	for _, p := range cueerrors.Positions(e) {
		if p.Filename() == file {
			return false
		}
	}
	return true
}

// fromCUE keeps CUE's own messages and positions, one per error.
func fromCUE(err error, file string) LoadErrors {
	var out LoadErrors
	for _, e := range cueerrors.Errors(err) {
		out = append(out, fromCUEError(e, file, e.Path()))
	}
	if len(out) == 0 {
		out = LoadErrors{{Pos: Pos{File: file, Line: 1, Col: 1}, Message: err.Error()}}
	}
	return out
}

// fromCUEError is one CUE error at path, placed at its position in the
// customer's file when it has one there (rather than in the schema).
func fromCUEError(e cueerrors.Error, file string, path []string) LoadError {
	pos := Pos{File: file, Line: 1, Col: 1}
	for _, p := range cueerrors.Positions(e) {
		if p.Filename() == file {
			pos = Pos{File: file, Line: p.Line(), Col: p.Column()}
			break
		}
	}
	format, args := e.Msg()
	msg := fmt.Sprintf(format, args...)
	le := LoadError{Pos: pos, Message: msg}
	if len(path) > 0 {
		le.Message = strings.Join(path, ".") + ": " + msg
		le.about(path...)
	}
	return le
}

func assemble(dir string, sources []Source, results []*fileResult) (*Fleet, LoadErrors) {
	// The index is sized once: at 10,000 customers it holds over 300,000
	// positions, and growing it copied them several times.
	size := 0
	for _, r := range results {
		if r != nil {
			size += len(r.positions.byPointer)
		}
	}
	fleet := &Fleet{Dir: dir, Positions: &Positions{byPointer: make(map[string]Pos, size)}}
	for _, r := range results {
		if r == nil {
			continue
		}
		fleet.Positions.merge(r.positions)
		if r.hub != nil {
			// Only hub.cue declares a hub (checkDeclarations), and a folder holds one.
			fleet.Hub = r.hub
		}
		if r.customer != nil {
			fleet.Customers = append(fleet.Customers, r.customer)
		}
	}
	sort.Slice(fleet.Customers, func(i, j int) bool { return fleet.Customers[i].Name < fleet.Customers[j].Name })
	if fleet.Hub == nil && !anyFailed(results, sources) {
		// Placed where the hub belongs, so that the finding has a file:line:col like any other.
		return fleet, LoadErrors{{Pos: Pos{File: filepath.Join(dir, HubFile), Line: 1, Col: 1},
			Message: "no hub: declare `hub: {...}` in " + HubFile + " (region, cidr, domain, clientVPN)"}}
	}
	return fleet, nil
}

func anyFailed(results []*fileResult, sources []Source) bool {
	for i, r := range results {
		if r == nil && filepath.Base(sources[i].Name) != SchemaFile {
			return true
		}
	}
	return false
}

func mustPos(p *Positions, pointer, file string) Pos {
	if pos, ok := p.Lookup(pointer); ok {
		return pos
	}
	return Pos{File: file, Line: 1, Col: 1}
}

// UnmarshalJSON accepts the Secrets Manager reference and records, without
// keeping it, that a literal key was written.
func (k *PreSharedKey) UnmarshalJSON(b []byte) error {
	var literal string
	if err := json.Unmarshal(b, &literal); err == nil {
		*k = PreSharedKey{Literal: true}
		return nil
	}
	type ref PreSharedKey
	var r ref
	if err := json.Unmarshal(b, &r); err != nil {
		return errors.New("preSharedKey: expected {secretsManager: \"<secret name or ARN>\"}")
	}
	*k = PreSharedKey(r)
	return nil
}
