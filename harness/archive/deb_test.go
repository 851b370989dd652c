package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dataMember returns the compressed data member of a .deb made by archivetest.BuildDeb.
func dataMember(t *testing.T, deb []byte) (string, []byte) {
	t.Helper()
	var name string
	var data []byte
	// Members: debian-binary (4 bytes), control.tar.xz (3 bytes + pad), data.
	off := len(arMagic)
	for off+60 <= len(deb) {
		hdr := deb[off : off+60]
		var size int
		_, err := fmt.Sscan(strings.TrimSpace(string(hdr[48:58])), &size)
		require.NoError(t, err)
		name = strings.TrimSpace(string(hdr[0:16]))
		data = deb[off+60 : off+60+size]
		off += 60 + size + size%2
	}
	return name, data
}

// A data archive whose compressed stream is cut or damaged after the tar's
// end is an error, whatever the compression and decoder.
func TestWalkDebDamagedStream(t *testing.T) {
	entries := []archivetest.TarEntry{{Name: "./boot/vmlinuz-1", Body: strings.Repeat("kernel", 1000)}}
	walk := func(deb []byte) error {
		return WalkDeb(bytes.NewReader(deb), func(string, *tar.Header, io.Reader) error { return nil })
	}
	for _, comp := range []string{"xz", "gz", "zst"} {
		deb := archivetest.BuildDeb(t, comp, entries...)
		require.NoError(t, walk(deb), comp)
		member, data := dataMember(t, deb)
		cut := data[:len(data)-6]
		assert.Error(t, walk(archivetest.ArDeb(member, cut)), "%s cut short", comp)
	}
	t.Run("xz without the tool", func(t *testing.T) {
		t.Setenv("PATH", "")
		deb := archivetest.BuildDeb(t, "xz", entries...)
		require.NoError(t, walk(deb))
		member, data := dataMember(t, deb)
		assert.Error(t, walk(archivetest.ArDeb(member, data[:len(data)-6])))
	})
}

// filesOutside lists every file under root that is neither dest nor under
// it.
func filesOutside(t *testing.T, root, dest string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() && p != dest && !strings.HasPrefix(p, dest+string(filepath.Separator)) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// A package's data archive names where its files go; ExtractTree must
// never write outside dest whatever the names say: "..", "./..", absolute
// paths, symlinks and hard links, alone or in sequence.
func TestExtractTreeStaysInDest(t *testing.T) {
	deb := archivetest.BuildDeb(t, "xz",
		archivetest.TarEntry{Name: "../outside-1", Body: "x"},
		archivetest.TarEntry{Name: "./../outside-2", Body: "x"},
		archivetest.TarEntry{Name: "./usr/include/../../../outside-3", Body: "x"},
		archivetest.TarEntry{Name: "usr/include/bpf/../../../../outside-4", Body: "x"},
		archivetest.TarEntry{Name: "/usr/include/bpf/abs.h", Body: "absolute"},
		archivetest.TarEntry{Name: "//usr/include/bpf/abs2.h", Body: "absolute"},
		archivetest.TarEntry{Name: "./usr/include/bpf/link", Type: tar.TypeSymlink, Linkname: "../../../../.."},
		archivetest.TarEntry{Name: "./usr/include/bpf/link/outside-5", Body: "x"},
		archivetest.TarEntry{Name: "./usr/include/bpf/etc", Type: tar.TypeSymlink, Linkname: "/etc"},
		archivetest.TarEntry{Name: "./usr/include/bpf/hard", Type: tar.TypeLink, Linkname: "../../../../outside-6"},
		archivetest.TarEntry{Name: "./usr/include/bpf/bpf_helpers.h", Body: "helpers"},
	)
	root := t.TempDir()
	dest := filepath.Join(root, "a", "b", "dest")
	_, err := ExtractTree(bytes.NewReader(deb), "usr/include/bpf", dest)
	require.NoError(t, err)
	assert.Empty(t, filesOutside(t, root, dest))
	got, err := os.ReadFile(filepath.Join(dest, "usr/include/bpf/bpf_helpers.h"))
	require.NoError(t, err)
	assert.Equal(t, "helpers", string(got))
	abs, err := os.ReadFile(filepath.Join(dest, "usr/include/bpf/abs.h"))
	require.NoError(t, err, "an absolute name lands inside dest")
	assert.Equal(t, "absolute", string(abs))
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		assert.True(t, d.IsDir() || d.Type().IsRegular(), "%s: only directories and regular files", p)
		return nil
	})
}

// ExtractTree's prefix is a directory: a sibling whose name merely starts
// with it (usr/include/bpfgen beside usr/include/bpf) is not under it.
func TestExtractTreeTakesOnlyThePrefixDirectory(t *testing.T) {
	deb := archivetest.BuildDeb(t, "gz",
		archivetest.TarEntry{Name: "./usr/include/bpfgen/x.h", Body: "sibling"},
		archivetest.TarEntry{Name: "./usr/include/bpf/bpf_helpers.h", Body: "helpers"},
	)
	dest := t.TempDir()
	n, err := ExtractTree(bytes.NewReader(deb), "/usr/include/bpf/", dest)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.FileExists(t, filepath.Join(dest, "usr/include/bpf/bpf_helpers.h"))
	assert.NoDirExists(t, filepath.Join(dest, "usr/include/bpfgen"))
}

// ExtractFile writes the one file asked for to dest and nothing else: a
// symlink or a hard link of that name is not it.
func TestExtractFileTakesOnlyARegularFile(t *testing.T) {
	name := "usr/lib/debug/boot/vmlinux-6.1.0-9-amd64"
	root := t.TempDir()
	dest := filepath.Join(root, "out", "vmlinux")
	deb := archivetest.BuildDeb(t, "zst",
		archivetest.TarEntry{Name: "./" + name, Type: tar.TypeSymlink, Linkname: "/etc/passwd"},
		archivetest.TarEntry{Name: "./" + name, Type: tar.TypeLink, Linkname: "../../../outside"},
		archivetest.TarEntry{Name: "../" + name, Body: "climbing"},
	)
	err := ExtractFile(bytes.NewReader(deb), name, dest)
	assert.ErrorContains(t, err, "no /"+name)
	assert.Empty(t, filesOutside(t, root, dest))
	assert.NoFileExists(t, dest)

	deb = archivetest.BuildDeb(t, "gz",
		archivetest.TarEntry{Name: "./" + name, Type: tar.TypeSymlink, Linkname: "/etc/passwd"},
		archivetest.TarEntry{Name: "./" + name, Body: "the vmlinux"},
	)
	require.NoError(t, ExtractFile(bytes.NewReader(deb), name, dest))
	got, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, "the vmlinux", string(got))
	assert.Empty(t, filesOutside(t, root, dest))
}

// Extraction holds no more than its bound in memory or on disk, whatever
// a tar header claims.
func TestExtractBounds(t *testing.T) {
	deb := archivetest.BuildDeb(t, "gz",
		archivetest.TarEntry{Name: "./boot/config-1", Body: "CONFIG_X=y\n"},
		archivetest.TarEntry{Name: "./boot/vmlinuz-1", Body: strings.Repeat("k", 2000)},
		archivetest.TarEntry{Name: "./usr/a", Body: strings.Repeat("a", 600)},
		archivetest.TarEntry{Name: "./usr/b", Body: strings.Repeat("b", 600)},
	)
	_, err := extractBoot(bytes.NewReader(deb), BootVmlinuz|BootConfig, 1000)
	assert.ErrorContains(t, err, "boot/vmlinuz-1: 2000 bytes, more than 1000")
	b, err := extractBoot(bytes.NewReader(deb), BootVmlinuz|BootConfig, 2000)
	require.NoError(t, err)
	assert.Len(t, b.Vmlinuz, 2000)

	dest := t.TempDir()
	_, err = extractTree(bytes.NewReader(deb), "usr", dest, 1000)
	assert.ErrorContains(t, err, "more than 1000 bytes in all")
	n, err := extractTree(bytes.NewReader(deb), "usr", t.TempDir(), 1200)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}
