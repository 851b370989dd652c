package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/ksystest/ksystest/harness/cache"
)

// Fetcher reads a distro's archive (Debian's unless Distro says): signed
// InRelease, hashed Packages indexes, hashed packages. Everything it
// returns was verified against the archive keyring, and everything it
// downloads lands in the cache.
type Fetcher struct {
	// Distro is the archive's distribution; nil is Debian.
	Distro *Distro
	Mirror string
	Keys   openpgp.KeyRing
	Cache  *cache.Cache
	// Other gives the fetcher of another distro's archive, sharing this
	// one's cache and settings (Ubuntu's kernels in a run that takes its
	// guests' tools from Debian); nil knows no other. See For.
	Other  func(d *Distro) (*Fetcher, error)
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
	// for any Client. A zero Backoff or timeout means NewFetcher's
	// default.
	ConnectTimeout, HeaderTimeout, IdleTimeout time.Duration
	// Now is the clock (tests set it).
	Now func() time.Time
	// OnDownload, when set, is told of each download: the bytes go to the
	// writer it returns as they arrive, and done is called at the end (a
	// progress bar).
	OnDownload func(name string, size int64) (w io.Writer, done func())

	mu       sync.Mutex
	releases map[string]*Release
	// selections are the index selections parsed, by index hash and prefix.
	indexMu    sync.Mutex
	selections map[string]map[string][]Package

	clientOnce sync.Once
	httpClient *http.Client
	// createFile, when set, replaces os.Create for downloads (tests fill
	// the disk with it).
	createFile func(name string) (io.WriteCloser, error)
}

// distro is the archive's distribution.
func (f *Fetcher) distro() *Distro {
	if f.Distro == nil {
		return Debian
	}
	return f.Distro
}

// For returns the fetcher of d's archive: f itself when it reads d's,
// else the one Other gives.
func (f *Fetcher) For(d *Distro) (*Fetcher, error) {
	if d == nil || d == f.distro() {
		return f, nil
	}
	if f.Other == nil {
		return nil, fmt.Errorf("no fetcher of %s's archive beside %s's", d.Title, f.distro().Title)
	}
	return f.Other(d)
}

// cachePath is where the cache keeps a file of this archive: Debian's
// at the cache's top, another distro's below its own directory, so that
// a suite of one never stands for the other's of the same name.
func (f *Fetcher) cachePath(parts ...string) string {
	if d := f.distro(); d.cacheDir != "" {
		parts = append([]string{d.cacheDir}, parts...)
	}
	return f.Cache.Path(parts...)
}

// Log reports progress through Logf.
func (f *Fetcher) Log(format string, args ...any) {
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
	if err := CheckSuite(suite); err != nil {
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
	cached := f.cachePath("dists", suite, "InRelease")
	st, statErr := os.Stat(cached)
	if statErr == nil && fresh(f.now().Sub(st.ModTime()), f.IndexMaxAge) {
		rel, err := f.cachedRelease(cached, suite)
		if err == nil {
			return rel, nil
		}
		f.Log("cache: dists/%s/InRelease: %v: fetching again", suite, err)
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
		f.Log("cannot reach the mirror (%v); using the cached InRelease of %s, dated %s", err, suite, rel.Date.Format(time.RFC1123))
		return rel, nil
	}
	rel, err := f.verifyRelease(data, suite)
	if err != nil {
		return nil, err
	}
	if err := cache.WriteFileAtomic(cached, data, 0o644); err != nil {
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
	data, err := cache.ReadFileLimit(path, maxInRelease)
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
	if !rel.Is(suite) {
		return nil, fmt.Errorf("suite %s: the InRelease is that of %s", suite, rel.Name())
	}
	if f.CheckValidUntil {
		if err := rel.CheckValid(f.now()); err != nil {
			return nil, err
		}
	}
	return rel, nil
}

// readFileLimit reads a cached file that may be at most limit bytes.
