package archive

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlainNames(t *testing.T) {
	for _, s := range []string{"bookworm", "bookworm-backports", "stable", "trixie-proposed-updates", "sid"} {
		assert.NoError(t, CheckSuite(s), s)
	}
	for _, s := range []string{"", "../../../tmp/x", "bookworm/../x", "Bookworm", "-x", ".", "..", "a b", "bookworm\x00"} {
		assert.ErrorIs(t, CheckSuite(s), ErrBadName, "%q", s)
	}
	for _, a := range []string{"amd64", "arm64", "armhf", "s390x", "hurd-i386"} {
		assert.NoError(t, CheckArch(a), a)
	}
	for _, a := range []string{"", "../amd64", "amd64/..", "AMD64", "-x"} {
		assert.ErrorIs(t, CheckArch(a), ErrBadName, "%q", a)
	}
	for _, p := range []string{"linux-image-6.1.0-50-amd64", "libstdc++6", "linux-image-6.12.95+deb12-arm64-dbg", "g++"} {
		assert.NoError(t, CheckPackage(p), p)
	}
	for _, p := range []string{"", "a", "../x", "linux-image-a/b", "Linux", "-x", "x_y"} {
		assert.ErrorIs(t, CheckPackage(p), ErrBadName, "%q", p)
	}
	for _, f := range []string{
		"pool/main/l/linux-signed-amd64/linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb",
		"pool/main/l/linux/linux-image-6.12.95+deb12-arm64_6.12.95-1~bpo12+1_arm64.deb",
	} {
		assert.NoError(t, CheckRelPath("Filename", f), f)
	}
	for _, f := range []string{"", "/etc/passwd", "../x.deb", "pool/../../x.deb", "pool/./x.deb", "pool//x.deb",
		"pool/x.deb/", "pool/x%2e%2e/y.deb", "pool/x.deb?y", "pool/x.deb#y", `pool\..\x.deb`} {
		assert.ErrorIs(t, CheckRelPath("Filename", f), ErrBadName, "%q", f)
	}
}

// An index is signed, but its names still become paths: a kept stanza whose
// Filename climbs out, or whose SHA256 is not a hash, is refused.
func TestParsePackagesRefusesPathsAndBadHashes(t *testing.T) {
	stanza := func(name, filename, sum string) string {
		return "Package: " + name + "\nFilename: " + filename + "\nSHA256: " + sum + "\nSize: 10\n\n"
	}
	good := strings.Repeat("ab", 32)
	for _, idx := range []string{
		stanza("linux-image-x", "../../../tmp/x.deb", good),
		stanza("linux-image-x", "/etc/passwd", good),
		stanza("linux-image-x", "pool/../../x.deb", good),
		stanza("linux-image-x", "pool/x.deb", "../../x"),
		stanza("linux-image-x", "pool/x.deb", strings.ToUpper(good)),
		stanza("linux-image-X", "pool/x.deb", good),
	} {
		_, err := ParsePackages(strings.NewReader(idx), func(n string) bool { return strings.HasPrefix(n, "linux-") })
		assert.ErrorIs(t, err, ErrBadName, idx)
	}
	// Stanzas nobody asked for are not judged.
	pkgs, err := ParsePackages(strings.NewReader(stanza("zsh", "../x", "y")+stanza("linux-image-x", "pool/x.deb", good)),
		func(n string) bool { return strings.HasPrefix(n, "linux-") })
	require.NoError(t, err)
	require.Len(t, pkgs, 1)
	assert.Equal(t, "pool/x.deb", pkgs[0].Filename)
}

func TestParseReleaseRefusesBadHashes(t *testing.T) {
	_, err := ParseRelease([]byte("Codename: x\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n ../x 10 main/binary-amd64/Packages\n"))
	assert.ErrorIs(t, err, ErrBadName)
	_, err = ParseRelease([]byte("Codename: x\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n " + strings.Repeat("0", 64) + " -10 main/binary-amd64/Packages\n"))
	assert.ErrorContains(t, err, "negative size")
}
