package image

import (
	"fmt"
	"net/http"
	"time"
)

// FetcherConfig is what a user chooses about fetching; NewFetcher fills in
// the rest from the host (apt sources, apt's Valid-Until setting).
type FetcherConfig struct {
	Mirror       string // empty: $KSYSTEST_DEBIAN_MIRROR, then apt sources
	Keyring      string // empty: DefaultKeyring
	CacheDir     string // empty: DefaultCacheDir()
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
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir()
	}
	maxAge := 6 * time.Hour
	if c.Refresh {
		maxAge = 0
	}
	return &Fetcher{
		Mirror: mirror, Keys: keys, Cache: &Cache{Dir: c.CacheDir},
		Client:          &http.Client{Timeout: 30 * time.Minute},
		Logf:            c.Logf,
		CheckValidUntil: !c.AllowExpired && AptChecksValidUntil(),
		IndexMaxAge:     maxAge,
		Attempts:        3,
	}, fmt.Sprintf("%s (from %s)", mirror, from), nil
}
