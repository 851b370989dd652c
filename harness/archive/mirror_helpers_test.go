package archive

import (
	"time"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
)

// testFetcher is a Fetcher of m with short timeouts and backoff, on a
// cache in c's directory; both report to logs.
func testFetcher(m *archivetest.Mirror, c *cache.Cache, logs *archivetest.Log) *Fetcher {
	return &Fetcher{Mirror: m.URL(), Keys: m.Keys(), Cache: &cache.Cache{Dir: c.Dir, Logf: logs.Logf}, Logf: logs.Logf,
		Attempts: 3, Backoff: time.Millisecond, ConnectTimeout: 5 * time.Second, HeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		Now: func() time.Time { return archivetest.Date.Add(time.Hour) }, CheckValidUntil: true}
}
