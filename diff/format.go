package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Formats are the output formats of the preview.
var Formats = []string{"text", "markdown", "json"}

// Write writes the preview in one of Formats. Colour and details only apply
// to text: markdown always carries the details (collapsed), json everything.
func Write(w io.Writer, format string, p *Preview, text TextOptions) error {
	switch format {
	case "text":
		return WriteText(w, p, text)
	case "markdown":
		_, err := io.WriteString(w, Markdown(p))
		return err
	case "json":
		return WriteJSON(w, p)
	}
	return fmt.Errorf("unknown format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the whole preview as indented JSON, for tools.
func WriteJSON(w io.Writer, p *Preview) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
