package archive

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
)

// syntheticIndex is a Packages index shaped like bookworm's
// main/binary-amd64: about 63k stanzas of about 700 bytes, 45 MB, one
// package in 500 a kernel image.
func syntheticIndex() []byte {
	var idx bytes.Buffer
	for i := 0; idx.Len() < 45<<20; i++ {
		name := fmt.Sprintf("pkg-%d", i)
		if i%500 == 0 {
			name = fmt.Sprintf("linux-image-%d-amd64", i)
		}
		fmt.Fprintf(&idx, "Package: %s\nVersion: 1.%d-1\nInstalled-Size: %d\nMaintainer: Some Maintainer <someone@debian.invalid>\n"+
			"Architecture: amd64\nDepends: libc6 (>= 2.34), libfoo%d (>= 1.2.3), libbar-common (= 1.%d-1)\n"+
			"Description: a package with a summary line of some length\nHomepage: https://example.invalid/%s\n"+
			"Description-md5: %032x\nTag: devel::library, implemented-in::c, role::shared-lib, works-with::text\n"+
			"Section: libs\nPriority: optional\nFilename: pool/main/p/%s/%s_1.%d-1_amd64.deb\nSize: %d\nSHA256: %064x\n\n",
			name, i, i%9999, i, i, name, i, name, name, i, 1000+i, i)
	}
	return idx.Bytes()
}

// BenchmarkParsePackages parses a bookworm-sized index, keeping only
// kernel images.
func BenchmarkParsePackages(b *testing.B) {
	data := syntheticIndex()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		pkgs, err := ParsePackages(bytes.NewReader(data), func(n string) bool { return strings.HasPrefix(n, "linux-image-") })
		if err != nil || len(pkgs) == 0 {
			b.Fatal(err, len(pkgs))
		}
	}
}

// BenchmarkCachedIndex is what every run pays per index it reads from a
// warm cache: check the 45 MB file's size and SHA256 against InRelease and
// parse it, in one pass.
func BenchmarkCachedIndex(b *testing.B) {
	data := syntheticIndex()
	path := filepath.Join(b.TempDir(), "Packages")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	want := cache.FileSum{SHA256: archivetest.SHA256(data), Size: int64(len(data))}
	keep := func(n string) bool { return strings.HasPrefix(n, "linux-image-") }
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		pkgs, err := readIndex(path, want, keep)
		if err != nil || len(pkgs) == 0 {
			b.Fatal(err, len(pkgs))
		}
	}
}

// BenchmarkParseRelease parses the signed text of a real InRelease (59 KB,
// 570 hash lines), as every run does once per suite.
func BenchmarkParseRelease(b *testing.B) {
	data, err := os.ReadFile("testdata/bookworm-backports.InRelease")
	if err != nil {
		b.Fatal(err)
	}
	block, _ := clearsign.Decode(data)
	b.SetBytes(int64(len(block.Plaintext)))
	for b.Loop() {
		if _, err := ParseRelease(block.Plaintext); err != nil {
			b.Fatal(err)
		}
	}
}
