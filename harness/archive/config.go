package archive

import (
	"fmt"
	"sync"
	"time"

	"github.com/ksystest/ksystest/harness/cache"
)

// FetcherConfig is what a user chooses about fetching; NewFetcher fills in
// the rest from the host (apt sources, apt's Valid-Until setting).
type FetcherConfig struct {
	Mirror   string // empty: $KSYSTEST_DEBIAN_MIRROR, then apt sources
	Keyring  string // empty: DefaultKeyring
	CacheDir string // empty: cache.DefaultCacheDir()
	// Ubuntu says where Ubuntu's archive is, for targets whose kernels
	// come from it: found on first use, through the Fetcher's Other.
	Ubuntu MirrorConfig
	// Cache, when set, is the cache to use (CacheDir is then unused): the
	// caller made it and swept it.
	Cache        *cache.Cache
	AllowExpired bool
	Refresh      bool // ignore the freshness of cached indexes
	Logf         func(format string, args ...any)
}

// MirrorConfig is where a distro's archive is and what signs it; empty
// fields are found on the host (Distro.DiscoverMirror, its DefaultKeyring).
type MirrorConfig struct {
	Mirror, Keyring string
}

// NewFetcher builds a Fetcher of Debian's archive from c and says where
// its mirror came from. Its Other makes Ubuntu's on first use, with the
// same cache and settings, and logs where that mirror came from.
func NewFetcher(c FetcherConfig) (*Fetcher, string, error) {
	store := c.Cache
	if store == nil {
		if c.CacheDir == "" {
			c.CacheDir = cache.DefaultCacheDir()
		}
		store = &cache.Cache{Dir: c.CacheDir, Logf: c.Logf}
		store.Sweep()
	}
	f, from, err := newFetcher(Debian, MirrorConfig{Mirror: c.Mirror, Keyring: c.Keyring}, store, c)
	if err != nil {
		return nil, "", err
	}
	ubuntu := sync.OnceValues(func() (*Fetcher, error) {
		mc := c.Ubuntu
		var err error
		if mc.Keyring, err = ubuntuKeyring(f, mc.Keyring); err != nil {
			return nil, err
		}
		u, from, err := newFetcher(Ubuntu, mc, store, c)
		if err != nil {
			return nil, err
		}
		u.OnDownload = f.OnDownload
		u.Log("Ubuntu mirror %s", from)
		return u, nil
	})
	f.Other = func(d *Distro) (*Fetcher, error) {
		if d != Ubuntu {
			return nil, fmt.Errorf("no fetcher of %s's archive", d.Title)
		}
		return ubuntu()
	}
	return f, from, nil
}

// newFetcher builds the fetcher of d's archive on store.
func newFetcher(d *Distro, mc MirrorConfig, store *cache.Cache, c FetcherConfig) (*Fetcher, string, error) {
	mirror, from, err := d.DiscoverMirror(mc.Mirror, AptSources, DebootstrapScripts)
	if err != nil {
		return nil, "", err
	}
	if mc.Keyring == "" {
		mc.Keyring = d.DefaultKeyring
	}
	keys, err := d.LoadKeyring(mc.Keyring)
	if err != nil {
		return nil, "", err
	}
	maxAge := 6 * time.Hour
	if c.Refresh {
		maxAge = 0
	}
	return &Fetcher{
		Distro: d, Mirror: mirror, Keys: keys, Cache: store,
		Logf:            c.Logf,
		CheckValidUntil: !c.AllowExpired && AptChecksValidUntil(),
		IndexMaxAge:     maxAge,
		Attempts:        defaultAttempts,
		Backoff:         defaultBackoff,
		// No bound on a whole download: a -dbg package on a slow link
		// takes long, and a stalled one is caught by IdleTimeout.
		ConnectTimeout: defaultConnectTimeout,
		HeaderTimeout:  defaultHeaderTimeout,
		IdleTimeout:    defaultIdleTimeout,
	}, fmt.Sprintf("%s (from %s)", mirror, from), nil
}
