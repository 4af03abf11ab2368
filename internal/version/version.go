// Package version says which build of vsoc a binary is, for --version: the module version go
// install recorded, else the commit it was built from.
package version

import (
	"runtime/debug"
	"strings"
)

// String is the binary's version: "v1.4.0", or for a build from a checkout "devel, commit
// 1b66415c2e9a (modified)"; "unknown" when the binary carries no build information.
func String() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		return "devel"
	}
	var b strings.Builder
	b.WriteString("devel, commit ")
	b.WriteString(revision[:min(12, len(revision))])
	if modified {
		b.WriteString(" (modified)")
	}
	return b.String()
}
