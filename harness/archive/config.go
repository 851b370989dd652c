package archive

import (
	"fmt"
	"time"

	"github.com/ksystest/ksystest/harness/cache"
)

// FetcherConfig is what a user chooses about fetching; NewFetcher fills in
// the rest from the host (apt sources, apt's Valid-Until setting).
type FetcherConfig struct {
	Mirror   string // empty: $KSYSTEST_DEBIAN_MIRROR, then apt sources
	Keyring  string // empty: DefaultKeyring
	CacheDir string // empty: cache.DefaultCacheDir()
	// Cache, when set, is the cache to use (CacheDir is then unused): the
	// caller made it and swept it.
	Cache        *cache.Cache
	AllowExpired bool
	Refresh      bool // ignore the freshness of cached indexes
	Logf         func(format string, args ...any)
}

// NewFetcher builds a Fetcher from c and says where its mirror came from.
func NewFetcher(c FetcherConfig) (*Fetcher, string, error) {
	mirror, from, err := DiscoverMirror(c.Mirror, AptSources)
	if err != nil {
		return nil, "", err
	}
	if c.Keyring == "" {
		c.Keyring = DefaultKeyring
	}
	keys, err := LoadKeyring(c.Keyring)
	if err != nil {
		return nil, "", err
	}
	maxAge := 6 * time.Hour
	if c.Refresh {
		maxAge = 0
	}
	store := c.Cache
	if store == nil {
		if c.CacheDir == "" {
			c.CacheDir = cache.DefaultCacheDir()
		}
		store = &cache.Cache{Dir: c.CacheDir, Logf: c.Logf}
		store.Sweep()
	}
	return &Fetcher{
		Mirror: mirror, Keys: keys, Cache: store,
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
