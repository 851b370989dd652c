package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// The recorded bookworm-backports InRelease verifies against the Debian
// archive keyring (installed by `make deps`).
func TestVerifyRecordedInRelease(t *testing.T) {
	keys, err := LoadKeyring(DefaultKeyring)
	if err != nil && os.Getenv("CI") == "" {
		t.Skipf("no Debian keyring here: %v", err)
	}
	require.NoError(t, err)
	data, err := os.ReadFile("testdata/bookworm-backports.InRelease")
	require.NoError(t, err)

	rel, err := VerifyInRelease(data, keys)
	require.NoError(t, err)
	assert.Equal(t, "bookworm-backports", rel.Suite)
	assert.False(t, rel.ValidUntil.IsZero())
	sum, ok := rel.Files["main/binary-s390x/Packages.xz"]
	require.True(t, ok)
	assert.Len(t, sum.SHA256, 64)

	// One flipped byte in the signed text breaks the signature.
	tampered := bytes.Replace(data, []byte("main/binary-s390x/Packages.xz"), []byte("main/binary-s390x/Packages.xy"), 1)
	_, err = VerifyInRelease(tampered, keys)
	assert.ErrorIs(t, err, ErrBadSignature)

	err = rel.CheckValid(rel.ValidUntil.Add(time.Hour))
	var expired *ExpiredError
	require.ErrorAs(t, err, &expired)
	assert.Contains(t, err.Error(), "bookworm-backports")
	assert.NoError(t, rel.CheckValid(rel.Date))
}

func TestParsePackages(t *testing.T) {
	idx := `Package: linux-image-amd64
Source: linux-signed-amd64 (6.1.192+2)
Version: 6.1.192-2
Architecture: amd64
Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)
Description: Linux for 64-bit PCs (meta-package)
 continuation line: ignored
Filename: pool/main/l/linux-signed-amd64/linux-image-amd64_6.1.192-2_amd64.deb
Size: 1500
SHA256: 9a3b1d1c5f4b2e0c6d7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e

Package: zsh
Filename: pool/z.deb
SHA256: bbbb
`
	pkgs, err := ParsePackages(strings.NewReader(idx), func(n string) bool { return strings.HasPrefix(n, "linux-") })
	require.NoError(t, err)
	require.Len(t, pkgs, 1)
	assert.Equal(t, "linux-image-6.1.0-56-amd64", pkgs[0].FirstDependency())
	assert.Equal(t, int64(1500), pkgs[0].Size)

	_, err = ParsePackages(strings.NewReader("Package: broken\nVersion: 1\n"), nil)
	assert.ErrorContains(t, err, "no Filename or SHA256")
	_, err = ParsePackages(strings.NewReader("Package: zsh\nSize: -1\n"), nil)
	assert.ErrorContains(t, err, "Size")
}

func TestAptChecksValidUntil(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/99x", []byte(`Acquire::Check-Valid-Until "false";`), 0o644))
	assert.False(t, AptChecksValidUntil(dir+"/*"))
	assert.True(t, AptChecksValidUntil(dir+"/none"))
}

// fakeArchive serves a tiny signed Debian archive with one kernel.
type fakeArchive struct {
	srv      *httptest.Server
	keys     openpgp.EntityList
	hits     map[string]*atomic.Int32
	corruptN atomic.Int32 // serve this many corrupt .debs first
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func makeDeb(t *testing.T, files map[string]string, order []string) []byte {
	var data bytes.Buffer
	xw, err := xz.NewWriter(&data)
	require.NoError(t, err)
	tw := tar.NewWriter(xw)
	for _, name := range order {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(files[name]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, xw.Close())

	var deb bytes.Buffer
	deb.WriteString(arMagic)
	member := func(name string, body []byte) {
		fmt.Fprintf(&deb, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(body))
		deb.Write(body)
		if len(body)%2 == 1 {
			deb.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.xz", []byte("odd")) // skipped, odd size exercises padding
	member("data.tar.xz", data.Bytes())
	return deb.Bytes()
}

func newFakeArchive(t *testing.T) *fakeArchive {
	ent, err := openpgp.NewEntity("ksystest test", "", "test@ksystest.invalid", nil)
	require.NoError(t, err)
	deb := makeDeb(t, map[string]string{
		"boot/vmlinuz-6.1.0-9-amd64": "KERNEL",
		"boot/config-6.1.0-9-amd64":  "CONFIG_ARCH_HAS_SYSCALL_WRAPPER=y\n",
		"lib/modules/x.ko":           "module",
	}, []string{"boot/config-6.1.0-9-amd64", "boot/vmlinuz-6.1.0-9-amd64", "lib/modules/x.ko"})

	var idx bytes.Buffer
	xw, _ := xz.NewWriter(&idx)
	fmt.Fprintf(xw, "Package: linux-image-amd64\nVersion: 9\nDepends: linux-image-6.1.0-9-amd64 (= 9)\nFilename: pool/meta.deb\nSHA256: %064d\n\n", 0)
	fmt.Fprintf(xw, "Package: linux-image-6.1.0-9-amd64\nVersion: 6.1.9-1\nFilename: pool/k.deb\nSize: %d\nSHA256: %s\n", len(deb), sha(deb))
	xw.Close()

	release := fmt.Sprintf("Suite: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n %s %d main/binary-amd64/Packages.xz\n", sha(idx.Bytes()), idx.Len())
	var signed bytes.Buffer
	w, err := clearsign.Encode(&signed, ent.PrivateKey, nil)
	require.NoError(t, err)
	w.Write([]byte(release))
	require.NoError(t, w.Close())

	fa := &fakeArchive{keys: openpgp.EntityList{ent}, hits: map[string]*atomic.Int32{}}
	files := map[string][]byte{
		"/debian/dists/bookworm/InRelease":                     signed.Bytes(),
		"/debian/dists/bookworm/main/binary-amd64/Packages.xz": idx.Bytes(),
		"/debian/pool/k.deb":                                   deb,
	}
	for p := range files {
		fa.hits[p] = &atomic.Int32{}
	}
	fa.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Web servers resolve ".." in request paths; so does this one.
		body, ok := files[path.Clean(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fa.hits[path.Clean(r.URL.Path)].Add(1)
		if strings.HasSuffix(r.URL.Path, ".deb") && fa.corruptN.Add(-1) >= 0 {
			body = append([]byte("X"), body[1:]...)
		}
		w.Write(body)
	}))
	t.Cleanup(fa.srv.Close)
	return fa
}

func TestFetchKernelVerifiesRetriesAndCaches(t *testing.T) {
	fa := newFakeArchive(t)
	fa.corruptN.Store(1)
	cache := &Cache{Dir: t.TempDir()}
	var logs []string
	newFetcher := func() *Fetcher {
		return &Fetcher{Mirror: fa.srv.URL + "/debian", Keys: fa.keys, Cache: cache, Attempts: 3,
			Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
	}
	ctx := context.Background()
	ref := KernelRef{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}

	k, err := newFetcher().Kernel(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, "linux-image-6.1.0-9-amd64", k.Package)
	assert.Equal(t, "6.1.9-1", k.Version)
	assert.Equal(t, "6.1.0-9-amd64", k.Release)
	assert.False(t, k.Cached)
	vmlinuz, _ := os.ReadFile(k.Vmlinuz)
	assert.Equal(t, "KERNEL", string(vmlinuz))
	v, err := k.ConfigValue("ARCH_HAS_SYSCALL_WRAPPER")
	require.NoError(t, err)
	assert.Equal(t, "y", v)
	assert.Equal(t, int32(2), fa.hits["/debian/pool/k.deb"].Load(), "corrupt download retried")
	assert.Contains(t, strings.Join(logs, "\n"), "sha256")

	// Second run, mirror gone: everything comes from the cache.
	fa.srv.Close()
	k2, err := newFetcher().Kernel(ctx, ref)
	require.NoError(t, err)
	assert.True(t, k2.Cached)
	assert.Equal(t, k.SHA256, k2.SHA256)
	assert.Contains(t, strings.Join(logs, "\n"), "using the cached InRelease")
}

func TestFetchRejectsBadSignatureAndPersistentCorruption(t *testing.T) {
	fa := newFakeArchive(t)
	other, err := openpgp.NewEntity("stranger", "", "x@ksystest.invalid", nil)
	require.NoError(t, err)
	ctx := context.Background()
	ref := KernelRef{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}

	f := &Fetcher{Mirror: fa.srv.URL + "/debian", Keys: openpgp.EntityList{other}, Cache: &Cache{Dir: t.TempDir()}}
	_, err = f.Kernel(ctx, ref)
	assert.ErrorIs(t, err, ErrBadSignature)

	fa.corruptN.Store(100)
	cache := &Cache{Dir: t.TempDir()}
	f = &Fetcher{Mirror: fa.srv.URL + "/debian", Keys: fa.keys, Cache: cache, Attempts: 2}
	_, err = f.Kernel(ctx, ref)
	var mismatch *HashMismatchError
	require.ErrorAs(t, err, &mismatch)
	entries, _ := os.ReadDir(cache.Path("kernels"))
	assert.Empty(t, entries, "nothing unverified is kept")

	_, err = f.Kernel(ctx, KernelRef{Suite: "bookworm", DebArch: "amd64", Flavour: "nosuch"})
	assert.ErrorIs(t, err, ErrNoPackage)
}
