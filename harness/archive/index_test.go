package archive

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoKernels publishes the standard kernel and an older one, so that an
// index edited to swap their hashes would boot the wrong one.
func twoKernels(t *testing.T) *archivetest.Mirror {
	m := archivetest.NewMirror(t)
	pkgs := append(archivetest.KernelPackages(t), archivetest.Package{
		Name: "linux-image-6.1.0-8-amd64", Version: "6.1.8-1",
		Deb: archivetest.KernelDeb(t, "6.1.0-8-amd64", "OLD KERNEL", "CONFIG_DEBUG_INFO_BTF=y\n"),
	})
	m.Publish(t, "bookworm", "amd64", pkgs)
	return m
}

func cachedIndexPath(t *testing.T, store *cache.Cache) string {
	paths, err := filepath.Glob(store.Path("index", "bookworm", "amd64", "Packages-*"))
	require.NoError(t, err)
	require.Len(t, paths, 1)
	return paths[0]
}

var sha256Line = regexp.MustCompile(`SHA256: [0-9a-f]{64}`)

// Two runs that want the same index at once fetch it once.
func TestIndexFetchedOnceByConcurrentRuns(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	index := m.Get("dists/bookworm/main/binary-amd64/Packages.xz")
	m.Fault("dists/bookworm/main/binary-amd64/Packages.xz", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // long enough for both runs to want it
		w.Write(index)
	})
	store := &cache.Cache{Dir: t.TempDir()}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = testFetcher(m, store, &archivetest.Log{}).Packages(context.Background(), "bookworm", "amd64", "linux-image-")
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	assert.Equal(t, 1, m.HitsOf("dists/bookworm/main/binary-amd64/Packages.xz"))
}

// The .xz is checked against its own hash in InRelease, even when it has
// the right size and decompresses to the right index: here the mirror
// serves it with xz stream padding, and InRelease lists the size with the
// padding but the hash without.
func TestIndexCompressedHashChecked(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	p := "dists/bookworm/main/binary-amd64/Packages.xz"
	packed := m.Get(p)
	padded := append(append([]byte(nil), packed...), 0, 0, 0, 0)
	m.Set(p, padded)
	plain := m.Index("bookworm", "amd64")
	m.Set("dists/bookworm/InRelease", archivetest.Clearsign(t, fmt.Sprintf(
		"Codename: bookworm\nDate: %s\nSHA256:\n %s %d main/binary-amd64/Packages\n %s %d main/binary-amd64/Packages.xz\n",
		archivetest.Date.Format(time.RFC1123), archivetest.SHA256(plain), len(plain), archivetest.SHA256(packed), len(padded))))
	_, err := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &archivetest.Log{}).Packages(context.Background(), "bookworm", "amd64", "linux-image-")
	var mismatch *cache.HashMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Contains(t, err.Error(), "Packages.xz")
	assert.Equal(t, 3, m.HitsOf(p), "retried")
}

// An index the mirror tampered with (both forms) is refused.
func TestIndexTamperedOnMirror(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	p := "dists/bookworm/main/binary-amd64/Packages.xz"
	m.Corrupt(p, 100)
	store := &cache.Cache{Dir: t.TempDir()}
	_, err := testFetcher(m, store, &archivetest.Log{}).Packages(context.Background(), "bookworm", "amd64", "linux-image-")
	var mismatch *cache.HashMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, 3, m.HitsOf(p))
	left, _ := filepath.Glob(store.Path("index", "*", "*", "*"))
	assert.Empty(t, left)
}

// The decompressed index must have the size and hash InRelease gives for
// it too.
func TestIndexUncompressedHashChecked(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	// Sign an InRelease whose uncompressed entry is for another index.
	other := bytes.Replace(m.Index("bookworm", "amd64"), []byte("test package"), []byte("TEST PACKAGE"), 1)
	m.SetIndex("bookworm", "amd64", other)
	m.Sign(t, "bookworm")
	store := &cache.Cache{Dir: t.TempDir()}
	_, err := testFetcher(m, store, &archivetest.Log{}).Packages(context.Background(), "bookworm", "amd64", "linux-image-")
	assert.ErrorContains(t, err, "decompressed: sha256")
	left, _ := filepath.Glob(store.Path("index", "*", "*", "*"))
	assert.Empty(t, left, "never installed")
}

// Within a run, a second lookup in the same index neither reads nor
// parses it again, even for a longer prefix.
func TestIndexSelectionRemembered(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	store := &cache.Cache{Dir: t.TempDir()}
	f := testFetcher(m, store, &archivetest.Log{})
	ctx := context.Background()
	all, err := f.Packages(ctx, "bookworm", "amd64", "linux-image-")
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.NoError(t, os.Remove(cachedIndexPath(t, store)))
	one, err := f.Packages(ctx, "bookworm", "amd64", archivetest.Kernel)
	require.NoError(t, err)
	require.Len(t, one, 1)
	assert.Equal(t, archivetest.Kernel, one[0].Name)
	assert.Equal(t, 1, m.HitsOf("dists/bookworm/main/binary-amd64/Packages.xz"))
}

// An index edited in the cache, by swapping two kernels' SHA256 or by one
// changed digit, is noticed, said, deleted and fetched again: the right
// kernel boots, and the run does not fail for ever after.
func TestCachedIndexEditedIsFetchedAgain(t *testing.T) {
	t.Parallel()
	m := twoKernels(t)
	store := &cache.Cache{Dir: t.TempDir()}
	ctx := context.Background()
	kernels := func(f *Fetcher) ([]Package, error) { return f.Packages(ctx, "bookworm", "amd64", "linux-image-") }
	var logs archivetest.Log
	want, err := kernels(testFetcher(m, store, &logs))
	require.NoError(t, err)
	path := cachedIndexPath(t, store)
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	swapped := func(b []byte) []byte {
		sums := sha256Line.FindAll(b, -1)
		require.Len(t, sums, 3)
		out := bytes.Replace(b, sums[1], []byte("SWAP"), 1)
		out = bytes.Replace(out, sums[2], sums[1], 1)
		return bytes.Replace(out, []byte("SWAP"), sums[2], 1)
	}
	oneDigit := func(b []byte) []byte {
		out := append([]byte(nil), b...)
		i := sha256Line.FindIndex(out)[1] - 1
		out[i] = "10"[map[bool]int{true: 1}[out[i] == '1']]
		return out
	}
	for name, edit := range map[string]func([]byte) []byte{"swapped": swapped, "one digit": oneDigit} {
		for _, maxAge := range []time.Duration{0, time.Hour} { // --refresh and not
			require.NoError(t, os.WriteFile(path, edit(good), 0o644))
			before := m.HitsOf("dists/bookworm/main/binary-amd64/Packages.xz")
			f := testFetcher(m, store, &logs)
			f.IndexMaxAge = maxAge
			got, err := kernels(f)
			require.NoError(t, err, name)
			assert.Equal(t, want, got, name)
			assert.Equal(t, before+1, m.HitsOf("dists/bookworm/main/binary-amd64/Packages.xz"), name)
			fixed, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, good, fixed, name)
		}
	}
	assert.Regexp(t, `cache: index/bookworm/amd64/Packages-[0-9a-f]{64}: sha256 [0-9a-f]{64}, want [0-9a-f]{64}: fetching again`, logs.String())

	// Truncated: said too.
	require.NoError(t, os.WriteFile(path, good[:100], 0o644))
	_, err = kernels(testFetcher(m, store, &logs))
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "100 bytes, want")

	// Mirror down: an edited index is an error, never a package list.
	require.NoError(t, os.WriteFile(path, swapped(good), 0o644))
	dead := archivetest.NewMirror(t)
	dead.Close()
	_, err = kernels(testFetcher(dead, store, &logs))
	assert.Error(t, err)
}

// Packages of several names come from one read of the index, exactly
// those names (bash, not bash-static).
func TestPackagesNamed(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	var pkgs []archivetest.Package
	for _, n := range []string{"bash", "bash-static", "libc6", "libtinfo6"} {
		pkgs = append(pkgs, archivetest.Package{Name: n, Version: "1", Deb: []byte("!<arch>\n")})
	}
	m.Publish(t, "bookworm", "amd64", pkgs)
	store := &cache.Cache{Dir: t.TempDir()}
	f := testFetcher(m, store, &archivetest.Log{})
	got, err := f.PackagesNamed(context.Background(), "bookworm", "amd64", "bash", "libc6")
	require.NoError(t, err)
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	assert.ElementsMatch(t, []string{"bash", "libc6"}, names)
	assert.Equal(t, 1, m.HitsOf("dists/bookworm/main/binary-amd64/Packages.xz"))
}
