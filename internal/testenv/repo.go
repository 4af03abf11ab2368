package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// repoRoot finds the main module's root by walking up from the working
// directory (go test runs in the package directory) to the first go.mod that
// is not inside testdata (the helper modules have their own go.mod).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !isUnderTestdata(dir) {
			return dir, nil
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("finding the repository root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.mod above the working directory; run the tests with go test from inside the repository")
		}
		dir = parent
	}
}

func isUnderTestdata(dir string) bool {
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if filepath.Base(dir) == "testdata" {
			return true
		}
	}
	return false
}
