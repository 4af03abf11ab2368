package compiler

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// Pos is where a value was written.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// Compare orders positions by file, line and column, as reports list them.
func (p Pos) Compare(q Pos) int {
	return cmp.Or(strings.Compare(p.File, q.File), cmp.Compare(p.Line, q.Line), cmp.Compare(p.Col, q.Col))
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Positions maps JSON pointers of the model ("/customers/wobcom/vpn/gateways/0/address",
// "/hub/cidr") to the place they were written. A value that was not written
// (a default) resolves to its nearest written ancestor, so every path has a
// position a person can open.
type Positions struct {
	byPointer map[string]Pos
}

// NewPositions returns an empty index.
func NewPositions() *Positions { return &Positions{byPointer: map[string]Pos{}} }

// Lookup returns the position of the value at pointer or of its nearest
// written ancestor; ok is false when nothing on the way was written.
func (p *Positions) Lookup(pointer string) (Pos, bool) {
	for {
		if pos, ok := p.byPointer[pointer]; ok {
			return pos, true
		}
		i := strings.LastIndexByte(pointer, '/')
		if i < 0 {
			return Pos{}, false
		}
		pointer = pointer[:i]
	}
}

// Pointer builds a JSON pointer (RFC 6901) from path elements.
func Pointer(elems ...any) string {
	var b strings.Builder
	for _, e := range elems {
		b.WriteByte('/')
		switch v := e.(type) {
		case string:
			b.WriteString(escapePointer(v))
		case int:
			b.WriteString(strconv.Itoa(v))
		default:
			b.WriteString(escapePointer(fmt.Sprint(v)))
		}
	}
	return b.String()
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escapePointer(s string) string { return pointerEscaper.Replace(s) }

func (p *Positions) merge(other *Positions) {
	for k, v := range other.byPointer {
		p.byPointer[k] = v
	}
}

// indexFile records the position of every field and list element written in
// a customer file. It walks the syntax tree rather than the evaluated value
// because a unified value reports the schema's position for defaults and may
// report either conjunct for a written one; the syntax is exact.
func indexFile(file *ast.File, name string) *Positions {
	idx := NewPositions()
	var walk func(prefix string, n ast.Node)
	walk = func(prefix string, n ast.Node) {
		switch x := n.(type) {
		case *ast.StructLit:
			for _, d := range x.Elts {
				walk(prefix, d)
			}
		case *ast.Field:
			label, ok := labelName(x.Label)
			if !ok {
				return
			}
			pointer := prefix + "/" + escapePointer(label)
			idx.byPointer[pointer] = position(name, valuePos(x))
			walk(pointer, x.Value)
		case *ast.ListLit:
			for i, e := range x.Elts {
				pointer := prefix + "/" + strconv.Itoa(i)
				idx.byPointer[pointer] = position(name, e.Pos())
				walk(pointer, e)
			}
		case *ast.BinaryExpr:
			// `a & {...}`: both sides were written here.
			walk(prefix, x.X)
			walk(prefix, x.Y)
		}
	}
	for _, d := range file.Decls {
		walk("", d)
	}
	return idx
}

// valuePos points at a scalar's value (where a fix goes) and at a struct's
// or list's label (where the block starts).
func valuePos(f *ast.Field) token.Pos {
	switch f.Value.(type) {
	case *ast.StructLit, *ast.ListLit:
		return f.Label.Pos()
	}
	return f.Value.Pos()
}

func labelName(l ast.Label) (string, bool) {
	name, _, err := ast.LabelName(l)
	return name, err == nil && name != ""
}

func position(file string, p token.Pos) Pos {
	return Pos{File: file, Line: p.Line(), Col: p.Column()}
}
