package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
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
	want := FileSum{SHA256: sha(data), Size: int64(len(data))}
	keep := func(n string) bool { return strings.HasPrefix(n, "linux-image-") }
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		pkgs, err := readIndex(path, want, keep)
		if err != nil || len(pkgs) == 0 {
			b.Fatal(err, len(pkgs))
		}
	}
}

// BenchmarkWriteInitramfs writes a 4 MB agent and a catalogue.
func BenchmarkWriteInitramfs(b *testing.B) {
	agent := bytes.Repeat([]byte("agent"), 4<<20/5)
	files := []File{
		{Path: "/init", Mode: 0o755, Data: agent},
		{Path: "/dev/console", Mode: 0o600, Char: true, Major: 5, Minor: 1},
		{Path: "/ksystest/cases.json", Mode: 0o644, Data: []byte(`{"version":1}`)},
	}
	b.SetBytes(int64(len(agent)))
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if err := WriteInitramfs(&out, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWarmKernelEntry is what every run pays to check a cached x86
// kernel before booting it: an 8 MB vmlinuz, its config and kernel.json,
// and the 60 MB vmlinux unpacked from it, each against its manifest.
func BenchmarkWarmKernelEntry(b *testing.B) {
	c := &Cache{Dir: b.TempDir()}
	ctx := context.Background()
	random := func(n int) []byte {
		data := make([]byte, n)
		rand.Read(data)
		return data
	}
	dir := c.Path("kernels", strings.Repeat("ab", 32))
	_, err := c.File(ctx, "kernel", dir, "kernel", func(tmp string) (string, error) {
		entry := filepath.Join(tmp, "entry")
		return entry, writeKernel(entry, &Kernel{Package: "linux-image-x"}, &BootFiles{Vmlinuz: random(8 << 20), Config: random(300 << 10)})
	})
	if err != nil {
		b.Fatal(err)
	}
	vmlinux := filepath.Join(dir, "vmlinux")
	_, err = c.File(ctx, "vmlinux", vmlinux, "vmlinux", func(tmp string) (string, error) {
		out := filepath.Join(tmp, "vmlinux")
		return out, os.WriteFile(out, random(60<<20), 0o644)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(68<<20 + 300<<10)
	for b.Loop() {
		if err := c.check(dir, "kernel"); err != nil {
			b.Fatal(err)
		}
		if err := c.check(vmlinux, "vmlinux"); err != nil {
			b.Fatal(err)
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
