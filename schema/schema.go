// Package schema embeds the CUE definitions that are the public contract of a
// customers repository.
package schema

import _ "embed"

// Source is the schema's CUE text.
//
//go:embed vsoc.cue
var Source []byte

// Filename is the name positions in the schema are reported under.
const Filename = "schema/vsoc.cue"

// Package is the CUE package every customer file declares.
const Package = "vsoc"
