package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCPUProfileOfAFailingValidation: --cpuprofile writes the profile when
// the command ends with status 1 too (violations found): the slow
// validation worth profiling is often one that finds violations.
func TestCPUProfileOfAFailingValidation(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "cpu.prof")
	if code := run(t.Context(), []string{"validate", "--cpuprofile", profile, "--no-cache", filepath.Join("..", "..", "testdata", "invalid", "vsoc001-host-bits")}); code != 1 {
		t.Fatalf("status %d, want 1 (violations)", code)
	}
	b, err := os.ReadFile(profile)
	if err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Fatalf("profile %d bytes (%v), want a gzipped pprof profile", len(b), err)
	}
}

// TestLostOutputIsAnError: a result that could not be written (a full disk) ends the run with
// status 2, whether the command printed it with checked writes or not.
func TestLostOutputIsAnError(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "--no-cache", filepath.Join("..", "..", "customers")},
		{"validate", "--no-cache", filepath.Join("..", "..", "testdata", "invalid", "vsoc001-host-bits")},
		{"explain"},
		{"explain", "VSOC001"},
	} {
		if code := runTo(t.Context(), args, fullDisk{}); code != 2 {
			t.Errorf("%v with its output on a full disk: status %d, want 2", args, code)
		}
	}
}

type fullDisk struct{}

func (fullDisk) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestExplainTheLoadRule: reports name rule CUE for a file that does not load, so explain knows it.
func TestExplainTheLoadRule(t *testing.T) {
	var out bytes.Buffer
	if code := runTo(t.Context(), []string{"explain", "cue"}, &out); code != 0 || !strings.HasPrefix(out.String(), "CUE: ") || !strings.Contains(out.String(), "How to fix: ") {
		t.Fatalf("explain cue: status %d, output:\n%s", code, out.String())
	}
	out.Reset()
	if code := runTo(t.Context(), []string{"explain"}, &out); code != 0 || !strings.HasPrefix(out.String(), "CUE ") || !strings.Contains(out.String(), "\nVSOC019 ") {
		t.Fatalf("explain: status %d, want CUE listed first, then the rules:\n%s", code, out.String())
	}
}

// TestNoUserCacheFolder: without HOME or XDG_CACHE_HOME (a bare container) there is no user cache
// folder; the cache only saves time, so the run goes on without it.
func TestNoUserCacheFolder(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	if code := runTo(t.Context(), []string{"validate", filepath.Join("..", "..", "customers")}, io.Discard); code != 0 {
		t.Fatalf("validate without a user cache folder: status %d, want 0", code)
	}
}
