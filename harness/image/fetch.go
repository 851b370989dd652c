package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ulikunitz/xz"
)

// Fetcher reads Debian's archive: signed InRelease, hashed Packages
// indexes, hashed packages. Everything it returns was verified against the
// archive keyring, and everything it downloads lands in the cache.
type Fetcher struct {
	Mirror string
	Keys   openpgp.KeyRing
	Cache  *Cache
	Client *http.Client
	// Logf reports progress; nil is quiet.
	Logf func(format string, args ...any)
	// CheckValidUntil rejects expired InRelease files.
	CheckValidUntil bool
	// IndexMaxAge lets a cached InRelease younger than this be used
	// without asking the mirror. Older ones are refreshed; if the mirror
	// cannot be reached, the cached one is used anyway (offline runs).
	IndexMaxAge time.Duration
	// Attempts is how often a download that fails or does not match its
	// hash is tried, waiting Backoff after the first failure and twice as
	// long after each next one.
	Attempts int
	Backoff  time.Duration
	// ConnectTimeout bounds connecting to the mirror, HeaderTimeout the
	// wait for an answer, and IdleTimeout every wait for more of a body:
	// a slow download continues as long as it moves. Client, when set, is
	// used instead of one built from ConnectTimeout; the other two hold
	// for any Client. Zero means the default.
	ConnectTimeout, HeaderTimeout, IdleTimeout time.Duration
	// Now is the clock (tests set it).
	Now func() time.Time
	// OnDownload, when set, is told of each download: the bytes go to the
	// writer it returns as they arrive, and done is called at the end (a
	// progress bar).
	OnDownload func(name string, size int64) (w io.Writer, done func())

	mu       sync.Mutex
	releases map[string]*Release

	clientOnce sync.Once
	httpClient *http.Client
	// createFile, when set, replaces os.Create for downloads (tests fill
	// the disk with it).
	createFile func(name string) (io.WriteCloser, error)
}

func (f *Fetcher) logf(format string, args ...any) {
	if f.Logf != nil {
		f.Logf(format, args...)
	}
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Release returns the verified Release of suite, once per Fetcher.
func (f *Fetcher) Release(ctx context.Context, suite string) (*Release, error) {
	if err := checkSuite(suite); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.releases[suite]; r != nil {
		return r, nil
	}
	r, err := f.release(ctx, suite)
	if err != nil {
		return nil, err
	}
	if f.releases == nil {
		f.releases = map[string]*Release{}
	}
	f.releases[suite] = r
	return r, nil
}

// release reads suite's InRelease: the cached one while it is younger
// than IndexMaxAge, else the mirror's, else (the mirror unreachable) the
// cached one whatever its age. Each is verified every time it is read; a
// cached one that fails is fetched again.
func (f *Fetcher) release(ctx context.Context, suite string) (*Release, error) {
	// Keyed by suite alone: the file is signed, so every mirror of the
	// archive serves the same one, and a cache filled through one mirror
	// serves a run whose mirror is down.
	cached := f.Cache.Path("dists", suite, "InRelease")
	st, statErr := os.Stat(cached)
	if statErr == nil && fresh(f.now().Sub(st.ModTime()), f.IndexMaxAge) {
		rel, err := f.cachedRelease(cached, suite)
		if err == nil {
			return rel, nil
		}
		f.logf("cache: dists/%s/InRelease: %v: fetching again", suite, err)
	}
	data, err := f.fetchInRelease(ctx, suite)
	if err != nil {
		if statErr != nil {
			return nil, fmt.Errorf("fetch InRelease of %s: %w", suite, err)
		}
		rel, cerr := f.cachedRelease(cached, suite)
		if cerr != nil {
			return nil, fmt.Errorf("fetch InRelease of %s: %w; the cached one: %w", suite, err, cerr)
		}
		f.logf("cannot reach the mirror (%v); using the cached InRelease of %s, dated %s", err, suite, rel.Date.Format(time.RFC1123))
		return rel, nil
	}
	rel, err := f.verifyRelease(data, suite)
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(cached, data, 0o644); err != nil {
		return nil, fmt.Errorf("cache InRelease: %w", err)
	}
	return rel, nil
}

// fresh says whether a cached file of this age may be used without asking
// the mirror. One from the future (a clock that moved) is not.
func fresh(age, maxAge time.Duration) bool { return age >= 0 && age < maxAge }

func (f *Fetcher) fetchInRelease(ctx context.Context, suite string) ([]byte, error) {
	url := fmt.Sprintf("%s/dists/%s/InRelease", f.Mirror, suite)
	var buf bytes.Buffer
	err := f.retry(ctx, "fetch InRelease of "+suite, func() error {
		buf.Reset()
		_, err := f.get(ctx, url, maxInRelease, &buf)
		return err
	})
	return buf.Bytes(), err
}

// cachedRelease verifies the cached InRelease like a fresh one. One that
// no longer verifies is deleted; an expired one is kept, since it may
// still serve a run that allows expired files.
func (f *Fetcher) cachedRelease(path, suite string) (*Release, error) {
	data, err := readFileLimit(path, maxInRelease)
	if err == nil {
		var rel *Release
		if rel, err = f.verifyRelease(data, suite); err == nil {
			return rel, nil
		}
	}
	var expired *ExpiredError
	if !errors.As(err, &expired) {
		os.Remove(path)
	}
	return nil, err
}

// verifyRelease checks an InRelease's signature, that it is suite's (a
// mirror must not pass another suite's signed file off as this one's), and
// its Valid-Until.
func (f *Fetcher) verifyRelease(data []byte, suite string) (*Release, error) {
	rel, err := VerifyInRelease(data, f.Keys)
	if err != nil {
		return nil, fmt.Errorf("suite %s: %w", suite, err)
	}
	if rel.Suite != suite && rel.Archive != suite {
		return nil, fmt.Errorf("suite %s: the InRelease is that of %s", suite, rel.Suite)
	}
	if f.CheckValidUntil {
		if err := rel.CheckValid(f.now()); err != nil {
			return nil, err
		}
	}
	return rel, nil
}

// readFileLimit reads a cached file that may be at most limit bytes.
func readFileLimit(path string, limit int64) ([]byte, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	data, err := io.ReadAll(io.LimitReader(fd, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s: %w: want at most %d bytes", path, ErrTooLarge, limit)
	}
	return data, err
}

// Packages returns the packages of suite/main for a Debian arch whose names
// start with prefix. The index is checked against the SHA256 in InRelease;
// the selection is remembered by the index's hash, so a second run neither
// downloads nor parses it.
func (f *Fetcher) Packages(ctx context.Context, suite, debArch, prefix string) ([]Package, error) {
	if err := checkArch(debArch); err != nil {
		return nil, err
	}
	rel, err := f.Release(ctx, suite)
	if err != nil {
		return nil, err
	}
	indexPath := fmt.Sprintf("main/binary-%s/Packages.xz", debArch)
	sum, ok := rel.Files[indexPath]
	if !ok {
		return nil, fmt.Errorf("suite %s has no %s: is %s a Debian architecture of that suite?", suite, indexPath, debArch)
	}
	memo := f.Cache.Path("index", sum.SHA256+"-"+prefix+".json")
	if data, err := os.ReadFile(memo); err == nil {
		var pkgs []Package
		if json.Unmarshal(data, &pkgs) == nil {
			return pkgs, nil
		}
	}
	unlock, err := f.Cache.Lock(ctx, "index-"+sum.SHA256[:16])
	if err != nil {
		return nil, err
	}
	defer unlock()
	tmp, err := f.Cache.TempDir()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	url := fmt.Sprintf("%s/dists/%s/%s", f.Mirror, suite, indexPath)
	f.logf("fetching %s %s index (%d KiB)", suite, debArch, sum.Size>>10)
	dest := filepath.Join(tmp, "Packages.xz")
	if err := f.Download(ctx, url, sum, dest); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(dest)
	if err != nil {
		return nil, err
	}
	xr, err := xz.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	pkgs, err := ParsePackages(xr, func(name string) bool { return strings.HasPrefix(name, prefix) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	data, _ := json.Marshal(pkgs)
	if err := WriteFileAtomic(memo, data, 0o644); err != nil {
		return nil, err
	}
	return pkgs, nil
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
