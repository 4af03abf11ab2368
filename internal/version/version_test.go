package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		info debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1b66415c2e9a0d3f5e8b7c6a5d4e3f2a1b0c9d8e"}, {Key: "vcs.modified", Value: "true"},
		}}, "devel, commit 1b66415c2e9a (modified)"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1b66415c2e9a0d3f5e8b7c6a5d4e3f2a1b0c9d8e"}, {Key: "vcs.modified", Value: "false"},
		}}, "devel, commit 1b66415c2e9a"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	} {
		if got := fromBuildInfo(&c.info); got != c.want {
			t.Errorf("fromBuildInfo(%+v) = %q, want %q", c.info, got, c.want)
		}
	}
}
