package archive

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/internal/vmtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The recorded bookworm-backports InRelease verifies against the Debian
// archive keyring (installed by `make deps`).
func TestVerifyRecordedInRelease(t *testing.T) {
	keys, err := LoadKeyring(DefaultKeyring)
	if err != nil {
		vmtest.Missing(t, fmt.Sprintf("the Debian archive keyring (package debian-archive-keyring): %v", err))
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
		check(t, archivetest.Clearsign(t, "Codename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n "+
			strings.Repeat("ab", 32)+" 10 main/binary-s390x/Packages.xz\n"), archivetest.Keys(t))
	})
	t.Run("Debian", func(t *testing.T) {
		keys, err := LoadKeyring(DefaultKeyring)
		if err != nil {
			vmtest.Missing(t, fmt.Sprintf("the Debian archive keyring (package debian-archive-keyring): %v", err))
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

// The VM tests' prerequisite is this package's keyring.
func TestVMTestKeyringIsTheArchives(t *testing.T) {
	assert.Equal(t, DefaultKeyring, vmtest.DebianKeyring)
}
