package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ksystest/ksystest/harness/cache"
)

// Packages returns the packages of suite/main for a Debian arch whose names
// start with prefix. The cache keeps the uncompressed index, and every read
// checks its size and SHA256 against those the signed InRelease gives for
// it before its content is used: an index damaged or edited in the cache is
// fetched again, never believed. Within one Fetcher a selection is parsed
// once.
func (f *Fetcher) Packages(ctx context.Context, suite, debArch, prefix string) ([]Package, error) {
	return f.packages(ctx, suite, debArch, prefix, nil)
}

// PackagesNamed returns the packages of suite/main for a Debian arch with
// one of names, reading the index once for all of them, checked as
// Packages checks it (the selection is not remembered).
func (f *Fetcher) PackagesNamed(ctx context.Context, suite, debArch string, names ...string) ([]Package, error) {
	return f.packages(ctx, suite, debArch, "", func(n string) bool { return slices.Contains(names, n) })
}

// packages is Packages with named, when not nil, selecting instead of
// prefix (and nothing remembered).
func (f *Fetcher) packages(ctx context.Context, suite, debArch, prefix string, named func(string) bool) ([]Package, error) {
	if err := CheckArch(debArch); err != nil {
		return nil, err
	}
	rel, err := f.Release(ctx, suite)
	if err != nil {
		return nil, err
	}
	// InRelease lists the uncompressed index even where mirrors serve only
	// the .xz: the cache keeps that, so reading it needs no decompression.
	name := "main/binary-" + debArch + "/Packages"
	plain, ok := rel.Files[name]
	packed, okXZ := rel.Files[name+".xz"]
	if !ok || !okXZ {
		return nil, fmt.Errorf("suite %s has no %s.xz: is %s a Debian architecture of that suite?", suite, name, debArch)
	}
	keep := func(n string) bool { return strings.HasPrefix(n, prefix) }
	if named != nil {
		keep = named
	} else if pkgs, ok := f.selected(plain.SHA256, prefix); ok {
		return pkgs, nil
	}
	path := f.cachePath("index", suite, debArch, "Packages-"+plain.SHA256)
	pkgs, err := f.cachedIndex(path, plain, keep)
	if err != nil {
		unlock, err := f.Cache.Lock(ctx, "index-"+plain.SHA256[:16])
		if err != nil {
			return nil, err
		}
		defer unlock()
		// Another run may have fetched it while this one waited.
		if pkgs, err = f.cachedIndex(path, plain, keep); err != nil {
			if err := f.fetchIndex(ctx, suite, name, packed, plain, path); err != nil {
				return nil, err
			}
			if pkgs, err = readIndex(path, plain, keep); err != nil {
				return nil, err
			}
		}
	}
	if named == nil {
		f.remember(plain.SHA256, prefix, pkgs)
	}
	return pkgs, nil
}

// cachedIndex reads the cached index at path; one that fails its check is
// deleted, and said so.
func (f *Fetcher) cachedIndex(path string, want cache.FileSum, keep func(string) bool) ([]Package, error) {
	pkgs, err := readIndex(path, want, keep)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.Log("cache: %s: %v: fetching again", f.Cache.Rel(path), err)
		os.Remove(path)
	}
	return pkgs, err
}

// readIndex parses the index at path once its size and SHA256 are those
// want gives. It hashes while it parses, in one pass over the file, and
// throws the parse away when the hash is wrong.
func readIndex(path string, want cache.FileSum, keep func(string) bool) ([]Package, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != want.Size {
		return nil, fmt.Errorf("%d bytes, want %d", st.Size(), want.Size)
	}
	h := sha256.New()
	pkgs, parseErr := ParsePackages(io.TeeReader(fd, h), keep)
	if parseErr != nil {
		// A damaged file is reported as damaged, not as unparsable.
		if _, err := io.Copy(h, fd); err != nil {
			return nil, err
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return nil, &cache.HashMismatchError{URL: path, Want: want.SHA256, Got: got}
	}
	return pkgs, parseErr
}

// fetchIndex downloads the .xz index, checked against InRelease, and
// installs it uncompressed at path once its size and hash are checked too.
func (f *Fetcher) fetchIndex(ctx context.Context, suite, name string, packed, plain cache.FileSum, path string) error {
	tmp, done, err := f.Cache.TempDir()
	if err != nil {
		return err
	}
	defer done()
	url := fmt.Sprintf("%s/dists/%s/%s.xz", f.Mirror, suite, name)
	f.Log("fetching %s %s (%d KiB)", suite, name, packed.Size>>10)
	compressed := filepath.Join(tmp, "Packages.xz")
	if err := f.Download(ctx, url, packed, compressed); err != nil {
		return err
	}
	out := filepath.Join(tmp, "Packages")
	if err := unxzChecked(compressed, out, plain); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// Older indexes of this suite and arch are of no more use.
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "Packages-*"))
	for _, o := range old {
		os.Remove(o)
	}
	return os.Rename(out, path)
}

// unxzChecked decompresses the file at src into dest, which must come out
// with want's SHA256. It stops one byte past want's size, so a stream that
// decompresses to far more costs no more than that.
func unxzChecked(src, dest string, want cache.FileSum) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	x, err := newXZReader(in)
	if err != nil {
		return err
	}
	defer x.Close()
	out, err := os.Create(dest)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(x, want.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n <= want.Size {
		err = x.Close()
	}
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return fmt.Errorf("decompressed: %w", &cache.HashMismatchError{URL: dest, Want: want.SHA256, Got: got})
	}
	return nil
}

// selected returns what this Fetcher parsed before from the index with
// this hash, for prefix or for a shorter prefix of it ("linux-image-"
// serves "linux-image-6.1.0-50-s390x-dbg").
func (f *Fetcher) selected(index, prefix string) ([]Package, bool) {
	f.indexMu.Lock()
	defer f.indexMu.Unlock()
	for p, pkgs := range f.selections[index] {
		if !strings.HasPrefix(prefix, p) {
			continue
		}
		var out []Package
		for _, pkg := range pkgs {
			if strings.HasPrefix(pkg.Name, prefix) {
				out = append(out, pkg)
			}
		}
		return out, true
	}
	return nil, false
}

func (f *Fetcher) remember(index, prefix string, pkgs []Package) {
	f.indexMu.Lock()
	defer f.indexMu.Unlock()
	if f.selections == nil {
		f.selections = map[string]map[string][]Package{}
	}
	if f.selections[index] == nil {
		f.selections[index] = map[string][]Package{}
	}
	f.selections[index][prefix] = pkgs
}

// ErrNoPackage means a package could not be found in an index.
var ErrNoPackage = errors.New("package not found")

// FindPackage returns the named package from pkgs, newest version last
// listed winning (Debian indexes list one version per name per suite).
func FindPackage(pkgs []Package, name string) (Package, error) {
	var found *Package
	for i := range pkgs {
		if pkgs[i].Name == name {
			found = &pkgs[i]
		}
	}
	if found == nil {
		return Package{}, fmt.Errorf("%w: %s", ErrNoPackage, name)
	}
	return *found, nil
}

// FetchPackage downloads the named package of suite/main for debArch into
// dest, verified against the signed index.
func (f *Fetcher) FetchPackage(ctx context.Context, suite, debArch, name, dest string) (Package, error) {
	if err := CheckPackage(name); err != nil {
		return Package{}, err
	}
	pkgs, err := f.Packages(ctx, suite, debArch, name)
	if err != nil {
		return Package{}, err
	}
	p, err := FindPackage(pkgs, name)
	if err != nil {
		return Package{}, fmt.Errorf("suite %s, %s: %w", suite, debArch, err)
	}
	f.Log("downloading %s %s (%d KiB)", p.Name, p.Version, p.Size>>10)
	return p, f.DownloadPackage(ctx, p, dest)
}

// DownloadPackage downloads p, as an index of this archive lists it,
// into dest, checked against the index's size and SHA256.
func (f *Fetcher) DownloadPackage(ctx context.Context, p Package, dest string) error {
	return f.Download(ctx, f.Mirror+"/"+p.Filename, cache.FileSum{SHA256: p.SHA256, Size: p.Size}, dest)
}
