package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// CacheEnv overrides the cache directory.
const CacheEnv = "KSYSTEST_CACHE"

// Cache is ksystest's download cache. Entries are named by the SHA256 of
// what they came from, written to a temporary name and renamed into place,
// and guarded by file locks, so parallel runs share it safely and a crash
// never leaves a half-written entry.
type Cache struct{ Dir string }

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
func (c *Cache) rel(path string) string {
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

// File makes sure the cache entry at path exists, calling build when it
// does not: under the named lock, so parallel runs build it once, and in
// a scratch directory whose result (the path build returns) is renamed
// into place, so nobody ever sees half an entry. It reports whether the
// entry was already there.
func (c *Cache) File(ctx context.Context, lock, path string, build func(tmp string) (string, error)) (cached bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return true, nil
	}
	unlock, err := c.Lock(ctx, lock)
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil { // built while we waited
		return true, nil
	}
	tmp, err := c.TempDir()
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	out, err := build(tmp)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	if err := os.Rename(out, path); err != nil {
		return false, fmt.Errorf("cache %s: %w", filepath.Base(path), err)
	}
	return false, nil
}

// TempDir makes a scratch directory inside the cache, on the same
// filesystem as the entries it will be renamed to.
func (c *Cache) TempDir() (string, error) {
	dir := c.Path("tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return os.MkdirTemp(dir, "work-")
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
