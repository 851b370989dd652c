package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// mirrorKey names a mirror in cache paths without writing its host name
// into them verbatim.
func (f *Fetcher) mirrorKey() string {
	sum := sha256.Sum256([]byte(f.Mirror))
	return hex.EncodeToString(sum[:6])
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

func (f *Fetcher) release(ctx context.Context, suite string) (*Release, error) {
	cached := f.Cache.Path("dists", f.mirrorKey(), suite, "InRelease")
	data, err := f.freshInRelease(ctx, suite, cached)
	if err != nil {
		return nil, err
	}
	rel, err := VerifyInRelease(data, f.Keys)
	if err != nil {
		return nil, fmt.Errorf("suite %s: %w", suite, err)
	}
	if f.CheckValidUntil {
		if err := rel.CheckValid(f.now()); err != nil {
			return nil, err
		}
	}
	if err := WriteFileAtomic(cached, data, 0o644); err != nil {
		return nil, fmt.Errorf("cache InRelease: %w", err)
	}
	return rel, nil
}

// fresh says whether a cached file of this age may be used without asking
// the mirror. One from the future (a clock that moved) is not.
func fresh(age, maxAge time.Duration) bool { return age >= 0 && age < maxAge }

func (f *Fetcher) freshInRelease(ctx context.Context, suite, cached string) ([]byte, error) {
	st, statErr := os.Stat(cached)
	if statErr == nil && fresh(f.now().Sub(st.ModTime()), f.IndexMaxAge) {
		return os.ReadFile(cached)
	}
	url := fmt.Sprintf("%s/dists/%s/InRelease", f.Mirror, suite)
	var buf bytes.Buffer
	err := f.retry(ctx, "fetch InRelease of "+suite, func() error {
		buf.Reset()
		_, err := f.get(ctx, url, maxInRelease, &buf)
		return err
	})
	if err == nil {
		return buf.Bytes(), nil
	}
	if statErr == nil {
		f.logf("cannot reach the mirror (%v); using the cached InRelease of %s from %s", err, suite, st.ModTime().Format(time.RFC3339))
		return os.ReadFile(cached)
	}
	return nil, fmt.Errorf("fetch InRelease of %s: %w", suite, err)
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
