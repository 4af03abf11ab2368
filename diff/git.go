package diff

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vsoc/vsoc/compiler"
)

// ErrUnknownRef is returned when the base ref does not name a commit of the
// repository DIR is in: a usage error, usually a branch that was not fetched.
var ErrUnknownRef = errors.New("unknown base ref")

// BaseSources is the customers folder as it was at a git ref.
type BaseSources struct {
	Commit string // the full commit ID the ref resolved to
	// Exists is false when the folder did not exist at that commit (the pull
	// request creates the customers repository).
	Exists  bool
	Sources []compiler.Source
}

// ReadRef reads the customers folder dir as it was at ref, straight from the
// git object database: the working tree and the index are never touched, so
// the head can be dirty and a CI checkout stays as it is. The sources are
// named as compiler.ReadDir names the working tree's files, so that base and
// head files with the same content share one entry of the compile cache.
func ReadRef(ctx context.Context, dir, ref string) (*BaseSources, error) {
	if strings.HasPrefix(ref, "-") {
		return nil, fmt.Errorf("%w %q: a ref cannot start with '-'", ErrUnknownRef, ref)
	}
	prefix, err := git(ctx, dir, nil, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, fmt.Errorf("finding %s in its git repository (diff needs the customers folder inside a git work tree): %w", dir, err)
	}
	commit, err := git(ctx, dir, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("%w %q: no such commit in the repository of %s (in CI, fetch the base branch first: "+
			"actions/checkout with fetch-depth: 0, or git fetch origin <base-branch>)", ErrUnknownRef, ref, dir)
	}
	base := &BaseSources{Commit: strings.TrimSpace(string(commit))}

	treePath := strings.TrimSuffix(strings.TrimSpace(string(prefix)), "/")
	tree := base.Commit
	if treePath != "" {
		tree = base.Commit + ":" + treePath
		if _, err := git(ctx, dir, nil, "cat-file", "-e", tree); err != nil {
			return base, nil // the folder is new in the head
		}
	}
	base.Exists = true

	listing, err := git(ctx, dir, nil, "ls-tree", "-z", "--full-tree", tree)
	if err != nil {
		return nil, fmt.Errorf("listing %s at %s: %w", dir, ref, err)
	}
	entries, err := cueBlobs(listing, dir, ref)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if e.symlink {
			// git resolves a link inside the repository when asked for the path at the commit
			// (cat-file --follow-symlinks), as a checkout's file system would.
			entries[i].object = base.Commit + ":" + path.Join(treePath, e.name)
		}
	}
	if len(entries) == 0 {
		return base, nil
	}
	contents, err := catBlobs(ctx, dir, entries)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", dir, ref, err)
	}
	for i, e := range entries {
		base.Sources = append(base.Sources, compiler.Source{Name: filepath.Join(dir, e.name), Content: contents[i]})
	}
	return base, nil
}

type treeEntry struct {
	name    string
	object  string // what cat-file is asked for: the blob, or <commit>:<path> of a symbolic link
	symlink bool
}

// cueBlobs picks the *.cue files out of `git ls-tree -z` output, as
// compiler.ReadDir picks them out of a folder: files directly in it that
// compiler.IsSourceName accepts (not .* or _*), sorted by name (git sorts
// tree entries by name).
func cueBlobs(listing []byte, dir, ref string) ([]treeEntry, error) {
	var entries []treeEntry
	for _, rec := range bytes.Split(listing, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		// <mode> SP <type> SP <object> TAB <name>
		meta, name, ok := strings.Cut(string(rec), "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 {
			return nil, fmt.Errorf("listing %s at %s: unexpected git ls-tree line %q", dir, ref, rec)
		}
		mode, kind, object := fields[0], fields[1], fields[2]
		if kind != "blob" || !compiler.IsSourceName(name) {
			continue
		}
		entries = append(entries, treeEntry{name: name, object: object, symlink: mode == "120000"})
	}
	return entries, nil
}

// catBlobs reads every blob with one `git cat-file --batch`, which streams
// them back in the order asked.
func catBlobs(ctx context.Context, dir string, entries []treeEntry) ([][]byte, error) {
	var request bytes.Buffer
	for _, e := range entries {
		request.WriteString(e.object)
		request.WriteByte('\n')
	}
	out, err := git(ctx, dir, &request, "cat-file", "--batch", "--follow-symlinks")
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(bytes.NewReader(out))
	contents := make([][]byte, len(entries))
	for i, e := range entries {
		header, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading %s from git cat-file: %w", e.name, err)
		}
		// <object> SP <type> SP <size> LF <content> LF
		fields := strings.Fields(header)
		if len(fields) != 3 || fields[1] != "blob" {
			if e.symlink {
				return nil, fmt.Errorf("%s is a symbolic link that does not lead to a file in the repository (git cat-file: %q); commit the file itself",
					e.name, strings.TrimSpace(header))
			}
			return nil, fmt.Errorf("reading %s: git cat-file answered %q", e.name, strings.TrimSpace(header))
		}
		size, err := strconv.Atoi(fields[2])
		if err != nil {
			return nil, fmt.Errorf("reading %s: git cat-file size %q: %w", e.name, fields[2], err)
		}
		content := make([]byte, size+1)
		if _, err := io.ReadFull(r, content); err != nil {
			return nil, fmt.Errorf("reading %s from git cat-file: %w", e.name, err)
		}
		contents[i] = content[:size]
	}
	return contents, nil
}

// git runs git in dir and returns its standard output; a failure carries
// git's own message.
func git(ctx context.Context, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}
