package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vsoc/vsoc/apply/cfnlocal"
	"github.com/vsoc/vsoc/apply/cfnlocal/cfnlocaltest"
)

// applyFixture builds the sample fleet into a temporary OUT and starts an in-process
// CloudFormation endpoint, with credentials that reach it and no profile of the user's; it
// returns the customers folder, OUT, the endpoint and its URL.
func applyFixture(t *testing.T) (string, string, *cfnlocal.Server, string) {
	t.Helper()
	for name, value := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDLOCAL",
		"AWS_SECRET_ACCESS_KEY":       "secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(t.TempDir(), "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "credentials"),
	} {
		t.Setenv(name, value)
	}
	customers := filepath.Join("..", "..", "customers")
	out := filepath.Join(t.TempDir(), "out")
	if code := runTo(t.Context(), []string{"build", "--no-cache", "-o", out, customers}, io.Discard); code != 0 {
		t.Fatalf("build: status %d", code)
	}
	server, url := cfnlocaltest.Start(t, time.Millisecond)
	return customers, out, server, url
}

// TestApplyRefusesAnEmptyOnly: --only "" (a CI variable that was not set) names no customer; read
// as no --only at all, it would apply every stack and delete the stacks of removed customers
// instead of the few the user meant. It is a usage error, found before AWS is asked anything.
func TestApplyRefusesAnEmptyOnly(t *testing.T) {
	customers, out, server, url := applyFixture(t)
	for _, only := range [][]string{{"--only", ""}, {"--only="}} {
		args := append([]string{"apply", "--no-cache", "--out", out, "--endpoint-url", url, "--poll-interval", "10ms"}, only...)
		if code := runTo(t.Context(), append(args, customers), io.Discard); code != 2 {
			t.Errorf("apply %v: status %d, want 2 (usage error)", only, code)
		}
	}
	if n := server.Calls("GetCallerIdentity") + server.Calls("CreateChangeSet"); n != 0 {
		t.Fatalf("apply with an empty --only made %d calls to AWS, want none", n)
	}
}

// TestApplyRefusesParallelAndPollIntervalItCannotUse: the driver takes a zero or negative
// parallelism or poll interval for its default (4 stacks at once, every 5 s); given on the command
// line, such a value would be ignored without a word. It is a usage error.
func TestApplyRefusesParallelAndPollIntervalItCannotUse(t *testing.T) {
	customers, out, server, url := applyFixture(t)
	for _, flag := range [][]string{{"--parallel", "0"}, {"--parallel", "-1"}, {"--poll-interval", "0s"}, {"--poll-interval", "-5s"}} {
		args := append([]string{"apply", "--no-cache", "--out", out, "--endpoint-url", url}, flag...)
		if code := runTo(t.Context(), append(args, customers), io.Discard); code != 2 {
			t.Errorf("apply %v: status %d, want 2 (usage error)", flag, code)
		}
	}
	if n := server.Calls("GetCallerIdentity") + server.Calls("CreateChangeSet"); n != 0 {
		t.Fatalf("apply with an unusable --parallel or --poll-interval made %d calls to AWS, want none", n)
	}
}

// TestApplyChecksTheAuditFileFirst: an --audit-file that cannot be written (its folder missing, or
// a folder of that name) is found before the run, not after it executed the change sets it should
// have recorded.
func TestApplyChecksTheAuditFileFirst(t *testing.T) {
	customers, out, server, url := applyFixture(t)
	dir := t.TempDir()
	for _, file := range []string{filepath.Join(dir, "missing", "audit.json"), dir} {
		args := []string{"apply", "--no-cache", "--out", out, "--endpoint-url", url, "--audit-file", file, customers}
		if code := runTo(t.Context(), args, io.Discard); code != 2 {
			t.Errorf("apply --audit-file %s: status %d, want 2", file, code)
		}
	}
	if n := server.Calls("GetCallerIdentity") + server.Calls("CreateChangeSet"); n != 0 {
		t.Fatalf("apply with an audit file it cannot write made %d calls to AWS, want none", n)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("the audit file's check left %v (%v), want nothing", entries, err)
	}
}

// TestApplyReportsLoadErrorsOnStderr: apply's stdout carries the audit record alone (a CI step
// parses it as JSON); a customers folder that does not load is reported on stderr, and stdout stays
// empty.
func TestApplyReportsLoadErrorsOnStderr(t *testing.T) {
	_, out, server, url := applyFixture(t)
	var stdout bytes.Buffer
	args := []string{"apply", "--no-cache", "--out", out, "--endpoint-url", url, filepath.Join("..", "..", "testdata", "invalid", "load-syntax-error")}
	if code := runTo(t.Context(), args, &stdout); code != 1 {
		t.Fatalf("apply on a folder that does not load: status %d, want 1", code)
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout holds %q, want nothing but an audit record", stdout.String())
	}
	if n := server.Calls("GetCallerIdentity"); n != 0 {
		t.Fatalf("apply on a folder that does not load made %d calls to AWS, want none", n)
	}
}
