// Package cache keeps what ksystest downloads and makes (kernels, BTF,
// guest programs, compiled probes) on disk by content: each entry is
// written under a temporary name and renamed into place, guarded by a
// file lock, and has a manifest with the SHA256 of its files and what it
// was made from, checked before every use (beside it, for the largest:
// FileChecked). It also owns scratch space
// and the one way ksystest hashes a file. It imports nothing from the
// project.
package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// CacheEnv overrides the cache directory.
const CacheEnv = "KSYSTEST_CACHE"

// Cache is ksystest's download cache. Entries are named by the SHA256 of
// what they came from, written to a temporary name and renamed into place,
// and guarded by file locks, so parallel runs share it safely and a crash
// never leaves a half-written entry. Nothing read from it is believed
// without a check: each entry has a manifest with the SHA256 of its files
// and what it was made from, and an entry that does not match its manifest
// is made again.
type Cache struct {
	Dir string
	// Logf reports entries found damaged and scratch swept; nil is quiet.
	Logf func(format string, args ...any)
}

func (c *Cache) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// DefaultCacheDir is $KSYSTEST_CACHE, else the user cache dir + /ksystest.
func DefaultCacheDir() string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ksystest")
	}
	return filepath.Join(os.TempDir(), "ksystest-cache")
}

// Path joins parts below the cache directory.
func (c *Cache) Path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

// rel names path relative to the cache, for messages.
// Rel is path relative to the cache, for messages.
func (c *Cache) Rel(path string) string {
	if r, err := filepath.Rel(c.Dir, path); err == nil {
		return r
	}
	return path
}

// Lock takes the named lock, waiting until ctx ends. Unlock with the
// returned function.
func (c *Cache) Lock(ctx context.Context, name string) (func(), error) {
	dir := c.Path("locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	l := flock.New(filepath.Join(dir, name+".lock"))
	ok, err := l.TryLockContext(ctx, 100*time.Millisecond)
	if err != nil || !ok {
		return nil, fmt.Errorf("cache lock %s: %w", name, err)
	}
	return func() { l.Unlock() }, nil
}

// File makes sure the cache entry at path (a file or a directory) is
// there and whole, calling build when it is not: under the named lock, so
// parallel runs build it once, and in a scratch directory whose result
// (the path build returns) is renamed into place, so nobody ever sees half
// an entry. from says what the entry is made from (a package, its version
// and hash); it is recorded in the entry's manifest with the SHA256 of
// every file, and an entry whose files or origin differ is said, removed
// and built again. File reports whether the entry was there already.
func (c *Cache) File(ctx context.Context, lock, path, from string, build func(tmp string) (string, error)) (cached bool, err error) {
	if err := c.Check(path, from); err == nil {
		return true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		c.logf("cache: %v: making it again", err)
	}
	unlock, err := c.Lock(ctx, lock)
	if err != nil {
		return false, err
	}
	defer unlock()
	if err := c.Check(path, from); err == nil { // made while we waited
		return true, nil
	}
	tmp, done, err := c.TempDir()
	if err != nil {
		return false, err
	}
	defer done()
	out, err := build(tmp)
	if err != nil {
		return false, err
	}
	m, err := newManifest(out, from)
	if err != nil {
		return false, fmt.Errorf("cache %s: %w", c.Rel(path), err)
	}
	// The manifest goes first and comes back last: in between, readers
	// find no entry rather than a mixed one.
	if err := os.Remove(manifestPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.RemoveAll(path); err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	if err := os.Rename(out, path); err != nil {
		return false, fmt.Errorf("cache %s: %w", c.Rel(path), err)
	}
	if err := m.write(manifestPath(path)); err != nil {
		return false, fmt.Errorf("cache %s: %w", c.Rel(path), err)
	}
	return false, nil
}

// removeDamaged removes the entry at path that failed its check (err),
// under its lock and only if it fails again there: another run may have
// made it again meanwhile.
func (c *Cache) removeDamaged(lock, path, from string, err error) error {
	unlock, lerr := c.Lock(context.Background(), lock)
	if lerr != nil {
		return err
	}
	defer unlock()
	if c.Check(path, from) == nil {
		return err // made again: this run used the damaged one
	}
	if rerr := c.Remove(path); rerr != nil {
		return err
	}
	return fmt.Errorf("%w (removed: it is made again on the next use)", err)
}

// Remove removes the entry at path, its manifest first: an entry whose
// inputs outside the cache changed (the headers of a compiled object).
func (c *Cache) Remove(path string) error {
	if err := os.Remove(manifestPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(path)
}

// TempDir makes a scratch directory inside the cache, on the same
// filesystem as the entries it will be renamed to, locked while it lives
// so that Sweep never takes it for the leftover of a killed run (see
// Scratch.Make).
func (c *Cache) TempDir() (dir string, done func(), err error) {
	dir, done, err = c.scratch().Make()
	if err != nil {
		return "", nil, fmt.Errorf("cache: %w", err)
	}
	return dir, done, nil
}

// scratch is the cache's scratch: its tmp directory is ksystest's alone.
func (c *Cache) scratch() Scratch { return Scratch{Root: c.Path("tmp"), Prefix: "work-", Owned: true} }

// Sweep removes the scratch directories that runs left behind when they
// were killed (Scratch.Sweep), and says what it removed.
func (c *Cache) Sweep() {
	for _, s := range c.scratch().Sweep() {
		if s.Err != nil {
			c.logf("cache: cannot remove stale %s: %v", c.Rel(s.Dir), s.Err)
		} else {
			c.logf("cache: removed %s (%d MiB), left behind by a run that did not end cleanly", c.Rel(s.Dir), s.Size>>20)
		}
	}
}

func diskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// WriteFileAtomic writes data to path through a temporary file and rename.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// FileChecked is File for an entry too large to hash before each use (a
// compiler and its libraries): an entry whose manifest and sizes are
// right is used at once while its files are hashed in the background,
// and check, which waits for that, must pass before anything made with
// the entry is believed. An entry check finds wrong is removed then, to
// be made again on the next use. An entry File makes is whole: its check is
// nil at once.
func (c *Cache) FileChecked(ctx context.Context, lock, path, from string, build func(tmp string) (string, error)) (check func() error, err error) {
	if _, err := c.Sums(path, from); err == nil {
		done := make(chan error, 1)
		go func() { done <- c.Check(path, from) }()
		// The entry is removed when check is called, once its user is
		// done with it: not under a guest still about to show it.
		return sync.OnceValue(func() error {
			if err := <-done; err != nil {
				return c.removeDamaged(lock, path, from, err)
			}
			return nil
		}), nil
	}
	if _, err := c.File(ctx, lock, path, from, build); err != nil {
		return nil, err
	}
	return func() error { return nil }, nil
}
