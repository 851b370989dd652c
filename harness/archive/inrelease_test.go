package archive

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Valid-Until holds for a fresh InRelease and for a cached one alike.
func TestValidUntilFreshAndCached(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	ctx := context.Background()
	expired := func(f *Fetcher) { f.Now = func() time.Time { return archivetest.ValidUntil.Add(time.Hour) } }
	var logs archivetest.Log

	// Fresh from the mirror.
	store := &cache.Cache{Dir: t.TempDir()}
	f := testFetcher(m, store, &logs)
	expired(f)
	_, err := f.Release(ctx, "bookworm")
	var exp *ExpiredError
	require.ErrorAs(t, err, &exp)
	assert.Equal(t, archivetest.ValidUntil, exp.ValidUntil.UTC())
	f = testFetcher(m, store, &logs)
	expired(f)
	f.CheckValidUntil = false
	_, err = f.Release(ctx, "bookworm")
	require.NoError(t, err, "--allow-expired-release")

	// Cached, mirror down.
	_, err = testFetcher(m, store, &logs).Release(ctx, "bookworm")
	require.NoError(t, err)
	dead := archivetest.NewMirror(t)
	dead.Close()
	f = testFetcher(dead, store, &logs)
	expired(f)
	_, err = f.Release(ctx, "bookworm")
	require.ErrorAs(t, err, &exp)
	assert.FileExists(t, store.Path("dists", "bookworm", "InRelease"), "an expired file is kept for runs that allow it")

	// Cached and young, used without asking the mirror: checked too.
	f = testFetcher(m, store, &logs)
	expired(f)
	f.IndexMaxAge = time.Hour
	require.NoError(t, os.Chtimes(store.Path("dists", "bookworm", "InRelease"), f.now(), f.now()))
	before := m.HitsOf("dists/bookworm/InRelease")
	_, err = f.Release(ctx, "bookworm")
	require.ErrorAs(t, err, &exp)
	assert.Equal(t, before+1, m.HitsOf("dists/bookworm/InRelease"), "an expired cached file is fetched again")
}

// A cached InRelease younger than IndexMaxAge is used without a request,
// and reading it does not make it younger.
func TestCachedInReleaseAge(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	store := &cache.Cache{Dir: t.TempDir()}
	ctx := context.Background()
	var logs archivetest.Log
	_, err := testFetcher(m, store, &logs).Release(ctx, "bookworm")
	require.NoError(t, err)
	path := store.Path("dists", "bookworm", "InRelease")

	f := testFetcher(m, store, &logs)
	f.IndexMaxAge = time.Hour
	written := f.now().Add(-time.Minute)
	require.NoError(t, os.Chtimes(path, written, written))
	_, err = f.Release(ctx, "bookworm")
	require.NoError(t, err)
	assert.Equal(t, 1, m.HitsOf("dists/bookworm/InRelease"))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, st.ModTime().Equal(written), "not rewritten")
}

// A cached InRelease that no longer verifies is deleted and fetched again,
// not an error for every later run.
func TestCorruptCachedInReleaseIsFetchedAgain(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	store := &cache.Cache{Dir: t.TempDir()}
	ctx := context.Background()
	var logs archivetest.Log
	_, err := testFetcher(m, store, &logs).Release(ctx, "bookworm")
	require.NoError(t, err)
	path := store.Path("dists", "bookworm", "InRelease")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	flipped := append([]byte(nil), data...)
	flipped[bytes.Index(flipped, []byte("Origin: ksystest"))+len("Origin: ")] ^= 1
	require.NoError(t, os.WriteFile(path, flipped, 0o644))

	f := testFetcher(m, store, &logs)
	f.IndexMaxAge = time.Hour
	require.NoError(t, os.Chtimes(path, f.now(), f.now()))
	_, err = f.Release(ctx, "bookworm")
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "cache: dists/bookworm/InRelease: suite bookworm: InRelease signature does not verify")
	assert.Equal(t, 2, m.HitsOf("dists/bookworm/InRelease"))
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, data, again)

	// With the mirror down as well, the broken file is an error, and gone.
	require.NoError(t, os.WriteFile(path, flipped, 0o644))
	dead := archivetest.NewMirror(t)
	dead.Close()
	_, err = testFetcher(dead, store, &logs).Release(ctx, "bookworm")
	assert.ErrorIs(t, err, ErrBadSignature)
	assert.NoFileExists(t, path)
}

// A mirror must not pass another suite's signed InRelease off as the one
// asked for.
func TestInReleaseOfAnotherSuiteIsRefused(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	m.Publish(t, "bullseye", "amd64", archivetest.KernelPackages(t))
	m.Set("dists/bookworm/InRelease", m.Get("dists/bullseye/InRelease"))
	_, err := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &archivetest.Log{}).Release(context.Background(), "bookworm")
	assert.ErrorContains(t, err, "suite bookworm: the InRelease is that of bullseye")
}
