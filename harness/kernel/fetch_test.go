package kernel

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFetchKernelVerifiesRetriesAndCaches(t *testing.T) {
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	deb := archivetest.KernelPackages(t)[1].Filename()
	m.Corrupt(deb, 1)
	store := &cache.Cache{Dir: t.TempDir()}
	var logs archivetest.Log
	ctx := context.Background()
	ref := Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}

	k, err := testFetcher(m, store, &logs).Kernel(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, archivetest.Kernel, k.Package)
	assert.Equal(t, archivetest.Version, k.Version)
	assert.Equal(t, archivetest.Release, k.Release)
	assert.False(t, k.Cached)
	vmlinuz, _ := os.ReadFile(k.Vmlinuz)
	assert.Equal(t, "KERNEL", string(vmlinuz))
	v, err := k.ConfigValue("ARCH_HAS_SYSCALL_WRAPPER")
	require.NoError(t, err)
	assert.Equal(t, "y", v)
	assert.Equal(t, 2, m.HitsOf(deb), "corrupt download retried")
	assert.Contains(t, logs.String(), "sha256")

	// Second run, mirror gone: everything comes from the cache.
	m.Close()
	k2, err := testFetcher(m, store, &logs).Kernel(ctx, ref)
	require.NoError(t, err)
	assert.True(t, k2.Cached)
	assert.Equal(t, k.SHA256, k2.SHA256)
	assert.Contains(t, logs.String(), "using the cached InRelease")
}

func TestFetchRejectsBadSignatureAndPersistentCorruption(t *testing.T) {
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	other, err := openpgp.NewEntity("stranger", "", "x@ksystest.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	require.NoError(t, err)
	ctx := context.Background()
	ref := Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}
	var logs archivetest.Log

	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs)
	f.Keys = openpgp.EntityList{other}
	_, err = f.Kernel(ctx, ref)
	assert.ErrorIs(t, err, archive.ErrBadSignature)

	// A tampered .deb: rejected, tried again, then an error naming the hash.
	deb := archivetest.KernelPackages(t)[1]
	m.Corrupt(deb.Filename(), 100)
	store := &cache.Cache{Dir: t.TempDir()}
	f = testFetcher(m, store, &logs)
	_, err = f.Kernel(ctx, ref)
	var mismatch *cache.HashMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Contains(t, err.Error(), "want "+archivetest.SHA256(deb.Deb))
	assert.Equal(t, f.Attempts, m.HitsOf(deb.Filename()))
	entries, _ := os.ReadDir(store.Path("kernels"))
	assert.Empty(t, entries, "nothing unverified is kept")
	left, _ := os.ReadDir(store.Path("tmp"))
	assert.Empty(t, left, "nor any scratch")

	_, err = f.Kernel(ctx, Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "nosuch"})
	assert.ErrorIs(t, err, archive.ErrNoPackage)
}

// A cache filled through one mirror serves a run whose mirror is another,
// dead one: the InRelease is signed, so which mirror it came from does not
// matter.
func TestCachedInReleaseServesAnyMirror(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	store := &cache.Cache{Dir: t.TempDir()}
	ctx := context.Background()
	ref := Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}
	var logs archivetest.Log
	_, err := testFetcher(m, store, &logs).Kernel(ctx, ref)
	require.NoError(t, err)

	dead := archivetest.NewMirror(t)
	dead.Close()
	f := testFetcher(dead, store, &logs)
	rel, err := f.Release(ctx, "bookworm")
	require.NoError(t, err)
	assert.Equal(t, "bookworm", rel.Suite)
	assert.Contains(t, logs.String(), "cannot reach the mirror")
	assert.Contains(t, logs.String(), "using the cached InRelease of bookworm")
	k, err := f.Kernel(ctx, ref)
	require.NoError(t, err)
	assert.True(t, k.Cached)
}

// A matrix that names a suite like "../../../tmp/x" must not get a byte
// written, or a request made, outside the archive's layout.
func TestFetcherRefusesPathsInNames(t *testing.T) {
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	root := t.TempDir()
	store := &cache.Cache{Dir: filepath.Join(root, "a", "b", "cache")}
	f := testFetcher(m, store, &archivetest.Log{})
	ctx := context.Background()

	for _, ref := range []Ref{
		{Suite: "../../../debian/dists/bookworm", DebArch: "amd64", Flavour: "amd64"},
		{Suite: "bookworm", DebArch: "../../x", Flavour: "amd64"},
		{Suite: "bookworm", DebArch: "amd64", Flavour: "../../x"},
		{Suite: "bookworm", DebArch: "amd64", Package: "linux-image-../../x"},
	} {
		_, err := f.Kernel(ctx, ref)
		assert.ErrorIs(t, err, archive.ErrBadName, "%+v", ref)
	}
	_, err := f.Packages(ctx, "bookworm", "amd64/../../../x", "linux-")
	assert.ErrorIs(t, err, archive.ErrBadName)
	_, err = f.FetchPackage(ctx, "bookworm", "amd64", "../x", filepath.Join(root, "x.deb"))
	assert.ErrorIs(t, err, archive.ErrBadName)
	_, err = f.Release(ctx, "../../../debian/dists/bookworm")
	assert.ErrorIs(t, err, archive.ErrBadName)

	assert.Zero(t, m.Requests(), "no requests")
	var outside []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !strings.HasPrefix(p, store.Dir+string(filepath.Separator)) {
			outside = append(outside, p)
		}
		return nil
	})
	assert.Empty(t, outside)
}

// A download cancelled midway leaves no scratch.
func TestCancelledDownloadLeavesNoScratch(t *testing.T) {
	t.Parallel()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	ctx, cancel := context.WithCancel(context.Background())
	deb := m.Get(archivetest.KernelPackages(t)[1].Filename())
	m.Fault(archivetest.KernelPackages(t)[1].Filename(), func(w http.ResponseWriter, r *http.Request) {
		w.Write(deb[:len(deb)/2])
		w.(http.Flusher).Flush()
		cancel()
		<-r.Context().Done()
	})
	store := &cache.Cache{Dir: t.TempDir()}
	_, err := testFetcher(m, store, &archivetest.Log{}).Kernel(ctx, Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"})
	assert.ErrorIs(t, err, context.Canceled)
	left, _ := os.ReadDir(store.Path("tmp"))
	assert.Empty(t, left)
}
