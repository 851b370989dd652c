package image

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Only the signed text counts: unsigned text after the signature or before
// the signed block, even SHA256 lines that would replace the hash list,
// changes nothing. Checked on Debian's recorded InRelease and on one
// signed with the test key (so the check never skips).
func TestVerifyInReleaseReadsOnlySignedText(t *testing.T) {
	fake := "SHA256:\n " + strings.Repeat("0", 64) + " 4242 main/binary-s390x/Packages.xz\n"
	check := func(t *testing.T, data []byte, keys openpgp.EntityList) {
		want, err := VerifyInRelease(data, keys)
		require.NoError(t, err)
		for name, tampered := range map[string][]byte{
			"appended":           append(append([]byte(nil), data...), "\n"+fake...),
			"appended stanza":    append(append([]byte(nil), data...), "\nCodename: evil\nDate: Sat, 11 Jul 2099 10:16:37 UTC\n"+fake...),
			"prepended":          append([]byte("Codename: evil\n"+fake+"\n"), data...),
			"prepended and more": append([]byte(fake+"\n"), append(append([]byte(nil), data...), "\n"+fake...)...),
		} {
			got, err := VerifyInRelease(tampered, keys)
			require.NoError(t, err, name)
			assert.Equal(t, want, got, name)
		}
	}
	t.Run("test key", func(t *testing.T) {
		check(t, clearsignTest(t, "Codename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n "+
			strings.Repeat("ab", 32)+" 10 main/binary-s390x/Packages.xz\n"), testKeys(t))
	})
	t.Run("Debian", func(t *testing.T) {
		keys, err := LoadKeyring(DefaultKeyring)
		if err != nil && os.Getenv("CI") == "" {
			t.Skipf("no Debian keyring here: %v", err)
		}
		require.NoError(t, err)
		data, err := os.ReadFile("testdata/bookworm-backports.InRelease")
		require.NoError(t, err)
		check(t, data, keys)
	})
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

func TestFetchKernelVerifiesRetriesAndCaches(t *testing.T) {
	m := newFakeMirror(t)
	m.publish(t, "bookworm", "amd64", testKernelPackages(t))
	deb := testKernelPackages(t)[1].filename()
	m.corrupt(deb, 1)
	cache := &Cache{Dir: t.TempDir()}
	var logs logLines
	ctx := context.Background()
	ref := KernelRef{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}

	k, err := m.fetcher(cache, &logs).Kernel(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, testKernel, k.Package)
	assert.Equal(t, testVersion, k.Version)
	assert.Equal(t, testRelease, k.Release)
	assert.False(t, k.Cached)
	vmlinuz, _ := os.ReadFile(k.Vmlinuz)
	assert.Equal(t, "KERNEL", string(vmlinuz))
	v, err := k.ConfigValue("ARCH_HAS_SYSCALL_WRAPPER")
	require.NoError(t, err)
	assert.Equal(t, "y", v)
	assert.Equal(t, 2, m.hitsOf(deb), "corrupt download retried")
	assert.Contains(t, logs.String(), "sha256")

	// Second run, mirror gone: everything comes from the cache.
	m.srv.Close()
	k2, err := m.fetcher(cache, &logs).Kernel(ctx, ref)
	require.NoError(t, err)
	assert.True(t, k2.Cached)
	assert.Equal(t, k.SHA256, k2.SHA256)
	assert.Contains(t, logs.String(), "using the cached InRelease")
}

func TestFetchRejectsBadSignatureAndPersistentCorruption(t *testing.T) {
	m := newFakeMirror(t)
	m.publish(t, "bookworm", "amd64", testKernelPackages(t))
	other, err := openpgp.NewEntity("stranger", "", "x@ksystest.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	require.NoError(t, err)
	ctx := context.Background()
	ref := KernelRef{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}
	var logs logLines

	f := m.fetcher(&Cache{Dir: t.TempDir()}, &logs)
	f.Keys = openpgp.EntityList{other}
	_, err = f.Kernel(ctx, ref)
	assert.ErrorIs(t, err, ErrBadSignature)

	// A tampered .deb: rejected, tried again, then an error naming the hash.
	deb := testKernelPackages(t)[1]
	m.corrupt(deb.filename(), 100)
	cache := &Cache{Dir: t.TempDir()}
	f = m.fetcher(cache, &logs)
	_, err = f.Kernel(ctx, ref)
	var mismatch *HashMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Contains(t, err.Error(), "want "+sha(deb.Deb))
	assert.Equal(t, f.Attempts, m.hitsOf(deb.filename()))
	entries, _ := os.ReadDir(cache.Path("kernels"))
	assert.Empty(t, entries, "nothing unverified is kept")
	left, _ := os.ReadDir(cache.Path("tmp"))
	assert.Empty(t, left, "nor any scratch")

	_, err = f.Kernel(ctx, KernelRef{Suite: "bookworm", DebArch: "amd64", Flavour: "nosuch"})
	assert.ErrorIs(t, err, ErrNoPackage)
}
