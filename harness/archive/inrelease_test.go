package image

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A cache filled through one mirror serves a run whose mirror is another,
// dead one: the InRelease is signed, so which mirror it came from does not
// matter.
func TestCachedInReleaseServesAnyMirror(t *testing.T) {
	t.Parallel()
	m := newFakeMirror(t)
	m.publish(t, "bookworm", "amd64", testKernelPackages(t))
	cache := &Cache{Dir: t.TempDir()}
	ctx := context.Background()
	ref := KernelRef{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}
	var logs logLines
	_, err := m.fetcher(cache, &logs).Kernel(ctx, ref)
	require.NoError(t, err)

	dead := newFakeMirror(t)
	dead.srv.Close()
	f := dead.fetcher(cache, &logs)
	rel, err := f.Release(ctx, "bookworm")
	require.NoError(t, err)
	assert.Equal(t, "bookworm", rel.Suite)
	assert.Contains(t, logs.String(), "cannot reach the mirror")
	assert.Contains(t, logs.String(), "using the cached InRelease of bookworm")
	k, err := f.Kernel(ctx, ref)
	require.NoError(t, err)
	assert.True(t, k.Cached)
}

// Valid-Until holds for a fresh InRelease and for a cached one alike.
func TestValidUntilFreshAndCached(t *testing.T) {
	t.Parallel()
	m := newFakeMirror(t)
	m.publish(t, "bookworm", "amd64", testKernelPackages(t))
	ctx := context.Background()
	expired := func(f *Fetcher) { f.Now = func() time.Time { return mirrorValidUntil.Add(time.Hour) } }
	var logs logLines

	// Fresh from the mirror.
	cache := &Cache{Dir: t.TempDir()}
	f := m.fetcher(cache, &logs)
	expired(f)
	_, err := f.Release(ctx, "bookworm")
	var exp *ExpiredError
	require.ErrorAs(t, err, &exp)
	assert.Equal(t, mirrorValidUntil, exp.ValidUntil.UTC())
	f = m.fetcher(cache, &logs)
	expired(f)
	f.CheckValidUntil = false
	_, err = f.Release(ctx, "bookworm")
	require.NoError(t, err, "--allow-expired-release")

	// Cached, mirror down.
	_, err = m.fetcher(cache, &logs).Release(ctx, "bookworm")
	require.NoError(t, err)
	dead := newFakeMirror(t)
	dead.srv.Close()
	f = dead.fetcher(cache, &logs)
	expired(f)
	_, err = f.Release(ctx, "bookworm")
	require.ErrorAs(t, err, &exp)
	assert.FileExists(t, cache.Path("dists", "bookworm", "InRelease"), "an expired file is kept for runs that allow it")

	// Cached and young, used without asking the mirror: checked too.
	f = m.fetcher(cache, &logs)
	expired(f)
	f.IndexMaxAge = time.Hour
	require.NoError(t, os.Chtimes(cache.Path("dists", "bookworm", "InRelease"), f.now(), f.now()))
	before := m.hitsOf("dists/bookworm/InRelease")
	_, err = f.Release(ctx, "bookworm")
	require.ErrorAs(t, err, &exp)
	assert.Equal(t, before+1, m.hitsOf("dists/bookworm/InRelease"), "an expired cached file is fetched again")
}

// A cached InRelease younger than IndexMaxAge is used without a request,
// and reading it does not make it younger.
func TestCachedInReleaseAge(t *testing.T) {
	t.Parallel()
	m := newFakeMirror(t)
	m.publish(t, "bookworm", "amd64", testKernelPackages(t))
	cache := &Cache{Dir: t.TempDir()}
	ctx := context.Background()
	var logs logLines
	_, err := m.fetcher(cache, &logs).Release(ctx, "bookworm")
	require.NoError(t, err)
	path := cache.Path("dists", "bookworm", "InRelease")

	f := m.fetcher(cache, &logs)
	f.IndexMaxAge = time.Hour
	written := f.now().Add(-time.Minute)
	require.NoError(t, os.Chtimes(path, written, written))
	_, err = f.Release(ctx, "bookworm")
	require.NoError(t, err)
	assert.Equal(t, 1, m.hitsOf("dists/bookworm/InRelease"))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, st.ModTime().Equal(written), "not rewritten")
}

// A cached InRelease that no longer verifies is deleted and fetched again,
// not an error for every later run.
func TestCorruptCachedInReleaseIsFetchedAgain(t *testing.T) {
	t.Parallel()
	m := newFakeMirror(t)
	m.publish(t, "bookworm", "amd64", testKernelPackages(t))
	cache := &Cache{Dir: t.TempDir()}
	ctx := context.Background()
	var logs logLines
	_, err := m.fetcher(cache, &logs).Release(ctx, "bookworm")
	require.NoError(t, err)
	path := cache.Path("dists", "bookworm", "InRelease")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	flipped := append([]byte(nil), data...)
	flipped[bytes.Index(flipped, []byte("Origin: ksystest"))+len("Origin: ")] ^= 1
	require.NoError(t, os.WriteFile(path, flipped, 0o644))

	f := m.fetcher(cache, &logs)
	f.IndexMaxAge = time.Hour
	require.NoError(t, os.Chtimes(path, f.now(), f.now()))
	_, err = f.Release(ctx, "bookworm")
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "cache: dists/bookworm/InRelease: suite bookworm: InRelease signature does not verify")
	assert.Equal(t, 2, m.hitsOf("dists/bookworm/InRelease"))
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, data, again)

	// With the mirror down as well, the broken file is an error, and gone.
	require.NoError(t, os.WriteFile(path, flipped, 0o644))
	dead := newFakeMirror(t)
	dead.srv.Close()
	_, err = dead.fetcher(cache, &logs).Release(ctx, "bookworm")
	assert.ErrorIs(t, err, ErrBadSignature)
	assert.NoFileExists(t, path)
}

// A mirror must not pass another suite's signed InRelease off as the one
// asked for.
func TestInReleaseOfAnotherSuiteIsRefused(t *testing.T) {
	t.Parallel()
	m := newFakeMirror(t)
	m.publish(t, "bookworm", "amd64", testKernelPackages(t))
	m.publish(t, "bullseye", "amd64", testKernelPackages(t))
	m.set("dists/bookworm/InRelease", m.get("dists/bullseye/InRelease"))
	_, err := m.fetcher(&Cache{Dir: t.TempDir()}, &logLines{}).Release(context.Background(), "bookworm")
	assert.ErrorContains(t, err, "suite bookworm: the InRelease is that of bullseye")
}
