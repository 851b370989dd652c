package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// manifest records what a cache entry holds: the size and SHA256 of each of
// its files, and what it was made from. It lies next to the entry
// (ENTRY.manifest) and is written last, atomically: an entry without one
// is unfinished, and one whose files differ from it is damaged.
type manifest struct {
	From string `json:"from"`
	// Files maps a file's path inside the entry ("." for an entry that is
	// a file) to its size and hash.
	Files map[string]FileSum `json:"files"`
}

func manifestPath(entry string) string { return entry + ".manifest" }

// maxManifest bounds a manifest read from the cache.
const maxManifest = 1 << 20

// newManifest hashes the entry at path, a regular file or a directory of
// them.
func newManifest(path, from string) (*manifest, error) {
	m := &manifest{From: from, Files: map[string]FileSum{}}
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		sum, err := HashFile(p)
		m.Files[filepath.ToSlash(rel)] = sum
		return err
	})
	if err == nil && len(m.Files) == 0 {
		err = errors.New("empty entry")
	}
	return m, err
}

func (m *manifest) write(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(data, '\n'), 0o644)
}

// Sums checks the manifest of the entry at path, that it was made from
// from and that its files have the sizes it says, and returns its sums by
// file ("." for an entry that is a file): for an entry too large to hash
// before each use, whose user hashes it while it reads it, and compares.
// fs.ErrNotExist means there is no entry at all.
func (c *Cache) Sums(path, from string) (map[string]FileSum, error) {
	m, err := c.manifest(path, from)
	if err != nil {
		return nil, err
	}
	for name, want := range m.Files {
		st, err := os.Stat(m.path(path, name))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Rel(path), err)
		}
		if st.Size() != want.Size {
			return nil, fmt.Errorf("%s: %d bytes, want %d", c.Rel(m.path(path, name)), st.Size(), want.Size)
		}
	}
	return m.Files, nil
}

// manifest reads the manifest of the entry at path and checks it: made
// from from, its file names plain.
func (c *Cache) manifest(path, from string) (*manifest, error) {
	data, err := ReadFileLimit(manifestPath(path), maxManifest)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(path); serr == nil {
			return nil, fmt.Errorf("%s: no manifest (an interrupted write, or an older ksystest's)", c.Rel(path))
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil || len(m.Files) == 0 {
		return nil, fmt.Errorf("%s: damaged manifest", c.Rel(path))
	}
	if m.From != from {
		return nil, fmt.Errorf("%s: made from %s, want %s", c.Rel(path), m.From, from)
	}
	for name := range m.Files {
		if name != "." {
			if err := CheckRelPath("manifest entry", name); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Rel(path), err)
			}
		}
	}
	return &m, nil
}

// path is where the entry at entry holds its file name.
func (m *manifest) path(entry, name string) string {
	if name == "." {
		return entry
	}
	return filepath.Join(entry, filepath.FromSlash(name))
}

// Check verifies the entry at path against its manifest and that it was
// made from from. fs.ErrNotExist means there is no entry at all.
func (c *Cache) Check(path, from string) error {
	m, err := c.manifest(path, from)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(m.Files))
	for name := range m.Files {
		names = append(names, name)
	}
	sort.Strings(names) // the same file is named first each time
	for _, name := range names {
		p := m.path(path, name)
		if err := CheckFile(p, m.Files[name]); err != nil {
			return fmt.Errorf("%s: %w", c.Rel(p), err)
		}
	}
	return nil
}
