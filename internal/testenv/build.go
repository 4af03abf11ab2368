package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tool is a set of programs built together from one helper module under
// testdata/tools/.
type tool struct {
	module   string   // folder under testdata/tools/
	packages []string // what to build, as go build arguments run inside the module
	binaries []string // the names go build -o DIR/ gives them
	ldflags  string
	duration string // how long a cold build takes on a 2-core machine, for the note
}

func kubeTool() tool {
	return tool{
		module:   "kube",
		packages: []string{"k8s.io/kubernetes/cmd/kube-apiserver", "./cmd/etcd"},
		binaries: []string{"kube-apiserver", "etcd"},
		// Without these the server reports v0.0.0-master, which clients that
		// parse /version (kubectl, discovery) treat as an unknown release.
		ldflags: "-X k8s.io/component-base/version.gitVersion=v1.36.0" +
			" -X k8s.io/component-base/version.gitMajor=1" +
			" -X k8s.io/component-base/version.gitMinor=36",
		duration: "~7 min",
	}
}

func coreDNSTool() tool {
	return tool{
		module:   "coredns",
		packages: []string{"github.com/coredns/coredns"},
		binaries: []string{"coredns"},
		duration: "~5 min",
	}
}

func netpolOracleTool() tool {
	return tool{
		module:   "netpol-oracle",
		packages: []string{"."},
		binaries: []string{"netpol-oracle"},
		duration: "~1 min",
	}
}

// mustBuild returns the directory holding tl's binaries, building them first
// if the cache has no build for the current sources; a failed build fails t
// with go build's output.
func mustBuild(t testing.TB, tl tool) string {
	t.Helper()
	dir, err := buildTool(t.Context(), tl)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return dir
}

func buildTool(ctx context.Context, tl tool) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return buildModule(ctx, tl, filepath.Join(root, "testdata", "tools", tl.module), filepath.Join(root, ".cache", "bin"))
}

// buildModule builds tl from moduleDir into a directory of cacheDir named
// after the module's hash, unless that directory already exists.
func buildModule(ctx context.Context, tl tool, moduleDir, cacheDir string) (string, error) {
	key, err := moduleHash(moduleDir)
	if err != nil {
		return "", err
	}
	binDir := filepath.Join(cacheDir, tl.module+"-"+key)
	if complete(binDir, tl.binaries) {
		return binDir, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("creating build cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, tl.module+".lock"), tl.module)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have finished the build while we waited.
	if complete(binDir, tl.binaries) {
		return binDir, nil
	}

	fmt.Fprintf(os.Stderr, "testenv: building %s into %s (first run, %s)\n", strings.Join(tl.binaries, ", "), cacheDir, tl.duration)
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building %s: the go command is not on PATH: %w", tl.module, err)
	}
	tmpDir, err := os.MkdirTemp(cacheDir, tl.module+"-partial-")
	if err != nil {
		return "", fmt.Errorf("building %s: %w", tl.module, err)
	}
	defer os.RemoveAll(tmpDir) // gone already after a successful rename

	args := []string{"build", "-o", tmpDir + string(filepath.Separator)}
	if tl.ldflags != "" {
		args = append(args, "-ldflags", tl.ldflags)
	}
	args = append(args, tl.packages...)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = moduleDir
	// The helper modules stand alone; a go.work further up must not pull
	// them into the main module's build list.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	started := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s (go %s in %s) failed: %w\n%s", tl.module, strings.Join(args, " "), moduleDir, err, out)
	}
	if !complete(tmpDir, tl.binaries) {
		return "", fmt.Errorf("building %s: go build succeeded but did not produce %v in %s", tl.module, tl.binaries, tmpDir)
	}
	// MkdirTemp made it private; the binaries are for every user of the checkout.
	if err := os.Chmod(tmpDir, 0o755); err != nil {
		return "", fmt.Errorf("building %s: %w", tl.module, err)
	}
	if err := os.Rename(tmpDir, binDir); err != nil {
		return "", fmt.Errorf("building %s: moving binaries into the cache: %w", tl.module, err)
	}
	fmt.Fprintf(os.Stderr, "testenv: built %s in %s\n", tl.module, time.Since(started).Round(time.Second))
	return binDir, nil
}

// complete reports whether dir holds every binary. Builds land in dir by an
// atomic rename, so a dir that exists is whole; checking the files as well
// protects against someone deleting one by hand.
func complete(dir string, binaries []string) bool {
	for _, name := range binaries {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !info.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// moduleHash identifies a build: the module's go.mod, go.sum and Go sources
// (a dependency bump or a source edit rebuilds) plus the Go toolchain and
// target platform.
func moduleHash(moduleDir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	err := filepath.WalkDir(moduleDir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.IsDir() {
			return nil
		}
		name := entry.Name()
		if name != "go.mod" && name != "go.sum" && (!strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go")) {
			return nil
		}
		rel, err := filepath.Rel(moduleDir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\n", filepath.ToSlash(rel))
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hashing helper module %s: %w", moduleDir, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can cancel
// the wait, and tells once that it is waiting for another process's build.
func lockFile(ctx context.Context, path, what string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening build lock %s: %w", path, err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !told {
			fmt.Fprintf(os.Stderr, "testenv: waiting for another test process building %s\n", what)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the build lock %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
