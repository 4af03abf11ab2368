package validate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vsoc/vsoc/internal/wording"
)

// formats are the report formats WriteReport accepts, for its error message.
const formats = "text, json, github"

// WriteReport prints violations (already sorted by Validate) as
//
//	text:   file:line:col: VSOC002: message, an indented hint line, and a
//	        summary ("2 violations in 1 file"); nothing at all when clean
//	json:   an array of {rule, file, line, col, pointer, customer, message, hint}
//	github: one workflow annotation per violation
func WriteReport(w io.Writer, format string, vs []Violation) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case "text":
		writeText(bw, vs)
	case "json":
		err = writeJSON(bw, vs)
	case "github":
		writeGitHub(bw, vs)
	default:
		return fmt.Errorf("unknown report format %q: use one of %s", format, formats)
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

func writeText(w io.Writer, vs []Violation) {
	files := map[string]bool{}
	for _, v := range vs {
		fmt.Fprintf(w, "%s: %s: %s\n", v.Pos, v.Rule, v.Message)
		if v.Hint != "" {
			fmt.Fprintf(w, "\thint: %s\n", v.Hint)
		}
		files[v.Pos.File] = true
	}
	if len(vs) > 0 {
		fmt.Fprintf(w, "%s in %s\n", wording.Count(len(vs), "violation"), wording.Count(len(files), "file"))
	}
}

// jsonViolation is the stable JSON form: flat, every field always present.
type jsonViolation struct {
	Rule     string `json:"rule"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Pointer  string `json:"pointer"`
	Customer string `json:"customer"`
	Message  string `json:"message"`
	Hint     string `json:"hint"`
}

func writeJSON(w io.Writer, vs []Violation) error {
	out := make([]jsonViolation, len(vs))
	for i, v := range vs {
		out[i] = jsonViolation{Rule: v.Rule, File: v.Pos.File, Line: v.Pos.Line, Col: v.Pos.Col,
			Pointer: v.Pointer, Customer: v.Customer, Message: v.Message, Hint: v.Hint}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	return nil
}

// writeGitHub prints workflow commands; GitHub requires %, CR and LF escaped
// in the message and additionally ':' and ',' in properties.
func writeGitHub(w io.Writer, vs []Violation) {
	for _, v := range vs {
		msg := v.Message
		if v.Hint != "" {
			msg += "\nhint: " + v.Hint
		}
		props := "file=" + escapeProperty(v.Pos.File)
		if v.Pos.Line > 0 {
			props += fmt.Sprintf(",line=%d,col=%d", v.Pos.Line, v.Pos.Col)
		}
		props += ",title=" + escapeProperty(v.Rule)
		fmt.Fprintf(w, "::error %s::%s\n", props, escapeData(msg))
	}
}

var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func escapeData(s string) string     { return dataEscaper.Replace(s) }
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }
