// Package fastyaml is sigs.k8s.io/yaml.Marshal, byte for byte, at a fraction
// of its cost for the shapes the renderers emit.
//
// sigs.k8s.io/yaml encodes through JSON, re-parses that JSON with a YAML
// parser and emits it again: at 10,000 customers that alone took most of the
// build. The Encoder produces the same bytes for mappings, sequences,
// strings, integers, booleans and null, and hands anything else to the
// library. Scalars it cannot prove plain are formatted by the YAML library
// itself, so quoting follows it exactly; kube's TestFastYAMLMatchesLibrary
// compares both on every rendered object and on awkward strings.
package fastyaml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// ErrNotFast says the value needs the library's own encoder.
var ErrNotFast = errors.New("shape not covered by the fast YAML encoder")

// maxCachedScalars bounds an Encoder's memory: a worker rendering thousands
// of customers would otherwise keep every customer's addresses. Past it the
// cache starts over (before the next object or batch), which changes
// nothing but speed.
const maxCachedScalars = 8192

// Encoder remembers how the library formats the strings it has seen, so
// that a string shared by many objects (a label, a CIDR, a port name) is
// formatted by the library once. It is not safe for concurrent use: give
// each goroutine its own.
type Encoder struct {
	scalars map[string]string
	// blocks are multi-line strings as the library writes them in block
	// context, formatted in the same call as the scalars.
	blocks map[string]block
	// strings and numbers hold the decoded JSON strings and numbers, boxed:
	// the same few labels, names and ports recur in every object, and
	// looking one up costs no allocation where converting and boxing it
	// again cost two.
	strings, numbers map[string]any
	// jsonOut and yamlOut are scratch buffers every call reuses, so that
	// they grow to the largest object once instead of for every object;
	// the result is copied out at its exact size.
	jsonOut, yamlOut bytes.Buffer
	json             *json.Encoder
	// members and items are stacks the parser collects an object's
	// members and a list's items on before copying them out at their exact
	// size: appending to each object's own slice grew it several times.
	members []member
	items   []any
}

// NewEncoder returns an Encoder with empty caches.
func NewEncoder() *Encoder {
	e := &Encoder{scalars: map[string]string{}, blocks: map[string]block{}, strings: map[string]any{}, numbers: map[string]any{}}
	// json.Encoder writes what json.Marshal returns (HTML escaped too),
	// followed by a newline.
	e.json = json.NewEncoder(&e.jsonOut)
	return e
}

// Marshal is sigs.k8s.io/yaml.Marshal.
func (e *Encoder) Marshal(obj any) ([]byte, error) {
	e.jsonOut.Reset()
	if err := e.json.Encode(obj); err != nil {
		return nil, err
	}
	raw := bytes.TrimSuffix(e.jsonOut.Bytes(), []byte("\n"))
	out, err := e.FromJSON(raw)
	if errors.Is(err, ErrNotFast) {
		return yaml.JSONToYAML(raw)
	}
	return out, err
}

// MarshalAll is Marshal of each of objs. The strings the library formats
// are formatted for all of them in one call of the library rather than one
// per object: a renderer's objects are small and many, and the calls were
// a tenth of their encoding.
func (e *Encoder) MarshalAll(objs ...any) ([][]byte, error) {
	// The objects' JSON, one after the other in jsonOut.
	e.jsonOut.Reset()
	ends := make([]int, len(objs))
	for i, obj := range objs {
		if err := e.json.Encode(obj); err != nil {
			return nil, err
		}
		ends[i] = e.jsonOut.Len()
	}
	all := e.jsonOut.Bytes()
	e.trimCaches()
	raws := make([][]byte, len(objs))
	trees := make([]any, len(objs))
	var missing []string
	for i := range objs {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		raws[i] = bytes.TrimSuffix(all[start:ends[i]], []byte("\n"))
		// An object the parser does not cover (nil tree) is left to the
		// library.
		if tree, err := e.parse(raws[i]); err == nil {
			trees[i] = tree
			missing = e.collectStrings(tree, missing)
		}
	}
	// A string the batch cannot format (one with a space) leaves every
	// object to format its own strings, as Marshal does.
	batched := e.formatScalars(missing) == nil
	out := make([][]byte, len(objs))
	for i, tree := range trees {
		var err error
		switch {
		case tree == nil:
			err = ErrNotFast
		case batched:
			out[i], err = e.emit(tree)
		default:
			out[i], err = e.fromTree(tree)
		}
		if errors.Is(err, ErrNotFast) {
			out[i], err = yaml.JSONToYAML(raws[i])
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FromJSON is yaml.JSONToYAML for the shapes it covers (encoding/json's
// compact output); ErrNotFast otherwise.
func (e *Encoder) FromJSON(raw []byte) ([]byte, error) {
	tree, err := e.parse(raw)
	if err != nil {
		return nil, err
	}
	return e.fromTree(tree)
}

// parse reads one JSON value, all of raw.
func (e *Encoder) parse(raw []byte) (any, error) {
	e.members, e.items = clearAbove(e.members, 0), clearAbove(e.items, 0)
	tree, rest, err := e.parseJSON(raw)
	if err != nil || len(rest) != 0 {
		return nil, ErrNotFast
	}
	return tree, nil
}

// fromTree formats the strings of a parsed value and writes it.
func (e *Encoder) fromTree(tree any) ([]byte, error) {
	e.trimCaches()
	if err := e.formatScalars(e.collectStrings(tree, nil)); err != nil {
		return nil, err
	}
	return e.emit(tree)
}

// emit writes a parsed value whose strings are formatted.
func (e *Encoder) emit(tree any) ([]byte, error) {
	e.yamlOut.Reset()
	if err := e.value(&e.yamlOut, tree, 0); err != nil {
		return nil, err
	}
	return bytes.Clone(e.yamlOut.Bytes()), nil
}

// maxSimpleKey is below the length (128) beyond which the library writes a
// key in the explicit "? key" form.
const maxSimpleKey = 100

// object is a JSON object in encoding order. A slice of members rather than
// a map: the encoder sorts the keys anyway, and a slice costs one
// allocation instead of a hash table per object.
type object []member

type member struct {
	key   string
	value any
}

// block is a multi-line string as a literal block: the header ("|" or
// "|-") and the lines, unindented. ok is false when the library writes the
// string otherwise (the encoder then hands the object to the library).
type block struct {
	header string
	lines  []string
	ok     bool
}

// collectStrings appends the strings (keys and values) the library has to
// format and has not yet: not plain words.
func (e *Encoder) collectStrings(v any, into []string) []string {
	switch v := v.(type) {
	case object:
		for _, m := range v {
			into = e.collectString(m.key, into)
			into = e.collectStrings(m.value, into)
		}
	case []any:
		for _, child := range v {
			into = e.collectStrings(child, into)
		}
	case string:
		into = e.collectString(v, into)
	}
	return into
}

func (e *Encoder) collectString(s string, into []string) []string {
	if isPlainWord(s) {
		return into
	}
	if strings.Contains(s, "\n") {
		if _, ok := e.blocks[s]; ok || !blockCandidate(s) {
			return into
		}
		return append(into, s)
	}
	if _, ok := e.scalars[s]; ok {
		return into
	}
	return append(into, s)
}

// blockCandidate: a multi-line string the encoder may write as a literal
// block, if the library does (no blank line, whose indentation the
// re-indenting could not tell, and no control character).
func blockCandidate(s string) bool {
	return !strings.Contains(s, "\n\n") && !strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && unicode.IsControl(r) })
}

// formatScalars formats the collected strings as items of one sequence: a
// one-line string is written the same way as a sequence item and as a
// mapping value (both block context, and without a space it cannot fold),
// and so is a multi-line one (a literal block, indented by two under "- "
// as under a key at the top level).
func (e *Encoder) formatScalars(list []string) error {
	if len(list) == 0 {
		return nil
	}
	slices.Sort(list)
	list = slices.Compact(list)
	for _, s := range list {
		// Without a space there is no point to fold at, whatever the length.
		if !strings.Contains(s, "\n") && strings.ContainsAny(s, " \t") {
			return ErrNotFast
		}
	}
	// The YAML library itself, without sigs.k8s.io/yaml's JSON round trip:
	// a list of strings is the same value either way.
	out, err := yamlv2.Marshal(list)
	if err != nil {
		return err
	}
	// Each item starts with "- " in the first column; the lines of a block
	// (or of a quoted string the library folded) are indented.
	var items [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "- "):
			items = append(items, []string{line[len("- "):]})
		case strings.HasPrefix(line, "  ") && len(items) > 0:
			items[len(items)-1] = append(items[len(items)-1], line)
		default:
			return ErrNotFast
		}
	}
	if len(items) != len(list) {
		return ErrNotFast
	}
	for i, item := range items {
		s := list[i]
		if strings.Contains(s, "\n") {
			e.blocks[s] = newBlock(item)
			continue
		}
		if len(item) != 1 {
			return ErrNotFast
		}
		e.scalars[s] = item[0]
	}
	return nil
}

// trimCaches empties a full cache before the strings of the next objects
// are collected: emptying it later would drop strings they were found in.
func (e *Encoder) trimCaches() {
	if len(e.scalars) >= maxCachedScalars {
		clear(e.scalars)
	}
	if len(e.blocks) >= maxCachedBlocks {
		clear(e.blocks)
	}
}

// maxCachedBlocks bounds the multi-line strings an Encoder keeps: they are
// mostly one customer's configuration, seldom seen again.
const maxCachedBlocks = 64

// newBlock reads a multi-line string's item: a literal block header, then
// its lines indented by two.
func newBlock(item []string) block {
	header := item[0]
	if header != "|" && header != "|-" {
		return block{}
	}
	lines := make([]string, len(item)-1)
	for i, line := range item[1:] {
		body, ok := strings.CutPrefix(line, "  ")
		if !ok {
			return block{}
		}
		lines[i] = body
	}
	return block{header: header, lines: lines, ok: true}
}

// value writes a top-level value: a mapping (every object) or a sequence
// (a JSON patch).
func (e *Encoder) value(b *bytes.Buffer, v any, indent int) error {
	switch v := v.(type) {
	case object:
		if len(v) > 0 {
			return e.mapping(b, v, indent, false)
		}
	case []any:
		if len(v) > 0 {
			return e.sequence(b, v, indent)
		}
	}
	return ErrNotFast
}

// mapping writes a non-empty mapping at indent; inline means the first key
// follows a "- " already written.
func (e *Encoder) mapping(b *bytes.Buffer, m object, indent int, inline bool) error {
	slices.SortFunc(m, func(x, y member) int { return compareKeys(x.key, y.key) })
	for i, mem := range m {
		k := mem.key
		if len(k) > maxSimpleKey {
			return ErrNotFast
		}
		if i > 0 && m[i-1].key == k {
			// encoding/json never repeats a key; a map would keep one.
			return ErrNotFast
		}
		if i > 0 || !inline {
			writeIndent(b, indent)
		}
		key, err := e.scalar(k)
		if err != nil {
			return err
		}
		b.WriteString(key)
		b.WriteByte(':')
		switch v := mem.value.(type) {
		case object:
			if len(v) == 0 {
				b.WriteString(" {}\n")
				continue
			}
			b.WriteByte('\n')
			if err := e.mapping(b, v, indent+2, false); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				b.WriteString(" []\n")
				continue
			}
			b.WriteByte('\n')
			// Sequences in a mapping are not indented (the library's style).
			if err := e.sequence(b, v, indent); err != nil {
				return err
			}
		case string:
			if strings.Contains(v, "\n") {
				if err := e.literalBlock(b, v, indent); err != nil {
					return err
				}
				continue
			}
			s, err := e.scalar(v)
			if err != nil {
				return err
			}
			b.WriteByte(' ')
			b.WriteString(s)
			b.WriteByte('\n')
		default:
			s, err := otherScalar(v)
			if err != nil {
				return err
			}
			b.WriteByte(' ')
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	return nil
}

func (e *Encoder) sequence(b *bytes.Buffer, items []any, indent int) error {
	for _, item := range items {
		writeIndent(b, indent)
		b.WriteString("- ")
		switch v := item.(type) {
		case object:
			if len(v) == 0 {
				b.WriteString("{}\n")
				continue
			}
			if err := e.mapping(b, v, indent+2, true); err != nil {
				return err
			}
		case []any:
			return ErrNotFast
		case string:
			if strings.Contains(v, "\n") {
				return ErrNotFast
			}
			s, err := e.scalar(v)
			if err != nil {
				return err
			}
			b.WriteString(s)
			b.WriteByte('\n')
		default:
			s, err := otherScalar(v)
			if err != nil {
				return err
			}
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	return nil
}

func writeIndent(b *bytes.Buffer, n int) {
	for n > len(spaces) {
		b.WriteString(spaces)
		n -= len(spaces)
	}
	b.WriteString(spaces[:n])
}

const spaces = "                                "

// yamlWords are the plain words YAML 1.1 (the library's resolver) reads as
// booleans or null: a string equal to one must be quoted.
var yamlWords = []string{
	"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
	"true", "True", "TRUE", "false", "False", "FALSE",
	"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
}

// maxYAMLWord is the length of the longest of yamlWords: a longer string
// need not be looked up.
const maxYAMLWord = 5

// isPlainWord: starts with an ASCII letter, holds only letters, digits and
// ". _ / -", and is no YAML keyword. Such a string is written as it is, on
// one line, whatever the column (it has no space to fold at).
func isPlainWord(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-') {
			return false
		}
	}
	return len(s) > maxYAMLWord || !slices.Contains(yamlWords, s)
}

// scalar is a one-line string as the library writes it.
func (e *Encoder) scalar(s string) (string, error) {
	if isPlainWord(s) {
		return s, nil
	}
	formatted, ok := e.scalars[s]
	if !ok {
		return "", ErrNotFast
	}
	return formatted, nil
}

// literalBlock writes a multi-line string as the library's "|" block,
// re-indented under its key.
func (e *Encoder) literalBlock(b *bytes.Buffer, s string, indent int) error {
	blk := e.blocks[s]
	if !blk.ok {
		return ErrNotFast
	}
	b.WriteByte(' ')
	b.WriteString(blk.header)
	b.WriteByte('\n')
	for _, line := range blk.lines {
		writeIndent(b, indent+2)
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return nil
}

func otherScalar(v any) (string, error) {
	switch v := v.(type) {
	case json.Number:
		// Integers only; floats would need the library's float formatting.
		if strings.ContainsAny(string(v), ".eE") {
			return "", ErrNotFast
		}
		return string(v), nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	case nil:
		return "null", nil
	}
	return "", fmt.Errorf("unexpected JSON value %T", v)
}

// compareKeys orders mapping keys as the YAML library's sorter does for
// string keys: letters before other characters, and runs of digits by
// their numeric value.
func compareKeys(x, y string) int {
	if x == y {
		return 0
	}
	if keyLess(x, y) {
		return -1
	}
	return 1
}

func keyLess(x, y string) bool {
	// Stack buffers: keys are short, and this runs for every key of every
	// object.
	if isASCII(x) && isASCII(y) {
		// Keys are ASCII but for the rare exception: their bytes are
		// their runes, without decoding them.
		var abuf, bbuf [64]byte
		return sortsBefore(append(abuf[:0], x...), append(bbuf[:0], y...))
	}
	var abuf, bbuf [64]rune
	return sortsBefore(appendRunes(abuf[:0], x), appendRunes(bbuf[:0], y))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// sortsBefore is the library's order on the runes (or, for ASCII, the
// bytes) of two keys.
func sortsBefore[R rune | byte](ar, br []R) bool {
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(rune(ar[i])), unicode.IsLetter(rune(br[i]))
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(rune(ar[j])); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(rune(ar[ai])); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(rune(br[bi])); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}

func appendRunes(dst []rune, s string) []rune {
	for _, r := range s {
		dst = append(dst, r)
	}
	return dst
}

// parseJSON reads one value of encoding/json's compact output into objects,
// slices, strings, json.Numbers, booleans and nil (what json.Decoder with
// UseNumber gives, without its reflection, and with objects in order). It
// returns the unread rest; anything unexpected is ErrNotFast, and the
// library decodes it instead.
func (e *Encoder) parseJSON(in []byte) (any, []byte, error) {
	if len(in) == 0 {
		return nil, nil, ErrNotFast
	}
	switch c := in[0]; {
	case c == '{':
		in = in[1:]
		if len(in) > 0 && in[0] == '}' {
			return object{}, in[1:], nil
		}
		// The members go on the stack above those of the objects this one
		// is in, and leave it when it is complete (FromJSON empties the
		// stacks a failed parse leaves).
		start := len(e.members)
		for {
			key, rest, err := e.parseJSON(in)
			if err != nil {
				return nil, nil, err
			}
			k, ok := key.(string)
			if !ok || len(rest) == 0 || rest[0] != ':' {
				return nil, nil, ErrNotFast
			}
			value, rest, err := e.parseJSON(rest[1:])
			if err != nil {
				return nil, nil, err
			}
			e.members = append(e.members, member{key: k, value: value})
			if len(rest) == 0 {
				return nil, nil, ErrNotFast
			}
			switch rest[0] {
			case ',':
				in = rest[1:]
			case '}':
				m := slices.Clone(object(e.members[start:]))
				e.members = clearAbove(e.members, start)
				return m, rest[1:], nil
			default:
				return nil, nil, ErrNotFast
			}
		}
	case c == '[':
		in = in[1:]
		if len(in) > 0 && in[0] == ']' {
			return []any{}, in[1:], nil
		}
		start := len(e.items)
		for {
			value, rest, err := e.parseJSON(in)
			if err != nil {
				return nil, nil, err
			}
			e.items = append(e.items, value)
			if len(rest) == 0 {
				return nil, nil, ErrNotFast
			}
			switch rest[0] {
			case ',':
				in = rest[1:]
			case ']':
				list := slices.Clone(e.items[start:])
				e.items = clearAbove(e.items, start)
				return list, rest[1:], nil
			default:
				return nil, nil, ErrNotFast
			}
		}
	case c == '"':
		end := 1
		escaped := false
		for ; end < len(in) && in[end] != '"'; end++ {
			if in[end] == '\\' {
				escaped = true
				end++
			}
		}
		if end >= len(in) {
			return nil, nil, ErrNotFast
		}
		if !escaped {
			return intern(e.strings, in[1:end], func(s string) any { return s }), in[end+1:], nil
		}
		var str string
		if err := json.Unmarshal(in[:end+1], &str); err != nil {
			return nil, nil, ErrNotFast
		}
		return str, in[end+1:], nil
	case c == '-' || c >= '0' && c <= '9':
		end := 1
		for end < len(in) && strings.IndexByte("0123456789.eE+-", in[end]) >= 0 {
			end++
		}
		return intern(e.numbers, in[:end], func(s string) any { return json.Number(s) }), in[end:], nil
	case bytes.HasPrefix(in, []byte("true")):
		return true, in[4:], nil
	case bytes.HasPrefix(in, []byte("false")):
		return false, in[5:], nil
	case bytes.HasPrefix(in, []byte("null")):
		return nil, in[4:], nil
	}
	return nil, nil, ErrNotFast
}

// clearAbove pops a stack down to n, dropping the references it held.
func clearAbove[T any](stack []T, n int) []T {
	clear(stack[n:])
	return stack[:n]
}

// maxInterned bounds each of an Encoder's maps of decoded values, as
// maxCachedScalars does for formatted strings.
const maxInterned = 16384

// intern returns the boxed value of text from m, boxing and remembering it
// the first time. The lookup with string(text) does not allocate.
func intern(m map[string]any, text []byte, box func(string) any) any {
	if v, ok := m[string(text)]; ok {
		return v
	}
	if len(m) >= maxInterned {
		clear(m)
	}
	key := string(text)
	v := box(key)
	m[key] = v
	return v
}
