package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
)

// dynELF is a little-endian 64-bit ELF file whose dynamic section names
// soname ("" for none) and the libraries it needs: what keepNeeded reads.
func dynELF(t *testing.T, soname string, needed ...string) string {
	t.Helper()
	var strtab bytes.Buffer
	strtab.WriteByte(0)
	str := func(s string) uint64 { off := strtab.Len(); strtab.WriteString(s + "\x00"); return uint64(off) }
	var dyn []elf.Dyn64
	if soname != "" {
		dyn = append(dyn, elf.Dyn64{Tag: int64(elf.DT_SONAME), Val: str(soname)})
	}
	for _, n := range needed {
		dyn = append(dyn, elf.Dyn64{Tag: int64(elf.DT_NEEDED), Val: str(n)})
	}
	dyn = append(dyn, elf.Dyn64{Tag: int64(elf.DT_NULL)})
	shstr := "\x00.dynstr\x00.dynamic\x00.shstrtab\x00"
	var dynBytes bytes.Buffer
	require.NoError(t, binary.Write(&dynBytes, binary.LittleEndian, dyn))
	strOff := uint64(64)
	dynOff := strOff + uint64(strtab.Len())
	shstrOff := dynOff + uint64(dynBytes.Len())
	shOff := shstrOff + uint64(len(shstr))
	var out bytes.Buffer
	w := func(v any) { require.NoError(t, binary.Write(&out, binary.LittleEndian, v)) }
	w(elf.Header64{Ident: [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1},
		Type: uint16(elf.ET_DYN), Machine: uint16(elf.EM_X86_64), Version: 1, Shoff: shOff, Ehsize: 64,
		Shentsize: 64, Shnum: 4, Shstrndx: 3})
	out.Write(strtab.Bytes())
	out.Write(dynBytes.Bytes())
	out.WriteString(shstr)
	w(elf.Section64{})
	w(elf.Section64{Name: 1, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(strtab.Len()), Addralign: 1})
	w(elf.Section64{Name: 9, Type: uint32(elf.SHT_DYNAMIC), Off: dynOff, Size: uint64(dynBytes.Len()), Link: 1, Addralign: 8, Entsize: 16})
	w(elf.Section64{Name: 18, Type: uint32(elf.SHT_STRTAB), Off: shstrOff, Size: uint64(len(shstr)), Addralign: 1})
	return out.String()
}

// userlandPackages are a suite's bash and clang as Debian lays them out,
// in small: clang-14's clang needs libLLVM (in LLVM's own directory),
// which needs libtinfo, zlib and the C library; libunused is a
// dependency nothing loads; llvm-14's binutils link to each other; its
// dependencies are not published (they must not be followed).
func userlandPackages(t *testing.T, llvmNeeds ...string) []archivetest.Package {
	deb := func(entries ...archivetest.TarEntry) []byte { return archivetest.BuildDeb(t, "xz", entries...) }
	file := func(name, body string) archivetest.TarEntry {
		return archivetest.TarEntry{Name: "./" + name, Body: body}
	}
	link := func(name, target string) archivetest.TarEntry {
		return archivetest.TarEntry{Name: "./" + name, Type: tar.TypeSymlink, Linkname: target}
	}
	tool := dynELF(t, "", "libLLVM-14.so.1", "libc.so.6")
	bin := "usr/lib/llvm-14/bin/"
	return []archivetest.Package{
		{Name: "bash", Version: "5.2.15-2+b2", Deb: deb(file("bin/bash", dynELF(t, "", "libtinfo.so.6", "libc.so.6")))},
		{Name: "libc6", Version: "2.36-9", Deb: deb(
			file("lib/x86_64-linux-gnu/libc.so.6", "libc"),
			file("lib/x86_64-linux-gnu/libm.so.6", "libm"),
			file("lib64/ld-linux-x86-64.so.2", "loader"),
			file("usr/lib/x86_64-linux-gnu/gconv/UTF-16.so", "not taken"))},
		{Name: "libtinfo6", Version: "6.4-4", Depends: "libc6 (>= 2.34)",
			Deb: deb(file("lib/x86_64-linux-gnu/libtinfo.so.6.4", dynELF(t, "libtinfo.so.6", "libc.so.6")))},
		{Name: "zlib1g", Version: "1.2.13.dfsg-1", Depends: "libc6 (>= 2.14)",
			Deb: deb(file("lib/x86_64-linux-gnu/libz.so.1.2.13", dynELF(t, "libz.so.1", "libc.so.6")))},
		{Name: "libunused1", Version: "1.0-1", Deb: deb(file("usr/lib/x86_64-linux-gnu/libunused.so.1", dynELF(t, "libunused.so.1")))},
		{Name: "clang", Version: "14.0-55.7~deb12u1", Depends: "clang-14 (>= 14~), libc6"},
		{Name: "clang-14", Version: "14.0.6-12", Depends: "libc6 (>= 2.34), libllvm14 (= 1:14.0.6-12), libclang-common-14-dev (= 1:14.0.6-12), libgcc-12-dev, binutils",
			Deb: deb(file(bin+"clang", tool), link(bin+"clang++", "clang"), link("usr/bin/clang-14", "../lib/llvm-14/bin/clang"))},
		{Name: "libllvm14", Version: "14.0.6-12", Depends: "libc6 (>= 2.36), libtinfo6 (>= 6), zlib1g | libz-alt, libunused1:any",
			Deb: deb(file("usr/lib/llvm-14/lib/libLLVM-14.so.1", dynELF(t, "libLLVM-14.so.1", append([]string{"libtinfo.so.6", "libz.so.1", "libm.so.6"}, llvmNeeds...)...)))},
		{Name: "llvm-14", Version: "14.0.6-12", Depends: "llvm-14-runtime, libcurl3-nss",
			Deb: deb(file(bin+"llvm-objcopy", tool), file(bin+"llvm-objdump", tool), file(bin+"llvm-readobj", tool), file(bin+"llvm-ar", tool),
				link(bin+"llvm-strip", "llvm-objcopy"), link(bin+"llvm-readelf", "llvm-readobj"))},
		{Name: "libclang-common-14-dev", Version: "14.0.6-12", Depends: "libllvm14",
			Deb: deb(file("usr/lib/llvm-14/lib/clang/14.0.6/include/stddef.h", "/* stddef */"),
				file("usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.builtins-x86_64.a", "not taken"))},
	}
}

func TestUserland(t *testing.T) {
	m := archivetest.NewMirror(t)
	pkgs := userlandPackages(t)
	m.Publish(t, "bookworm", "amd64", pkgs)
	var logs archivetest.Log
	store := &cache.Cache{Dir: t.TempDir()}
	f := testFetcher(m, store, &logs)
	ctx := context.Background()

	u, err := f.Userland(ctx, "amd64")
	require.NoError(t, err)
	require.NoError(t, u.ClangErr)
	for _, name := range []string{"bash", "lib/libtinfo.so.6", "libc/libc.so.6", "libc/libm.so.6", "libc/ld-linux-x86-64.so.2"} {
		assert.FileExists(t, filepath.Join(u.Bash, name))
	}
	assert.NoFileExists(t, filepath.Join(u.Bash, "libc", "UTF-16.so"))
	require.NotNil(t, u.Clang)
	assert.Equal(t, "14", u.Clang.Major)
	require.NoError(t, u.Clang.Check())
	names := func(dir string) []string {
		entries, err := os.ReadDir(filepath.Join(u.Clang.Dir, dir))
		require.NoError(t, err)
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	assert.ElementsMatch(t, []string{"clang", "clang-14", "llvm-objcopy", "llvm-strip", "llvm-objdump", "llvm-readobj", "llvm-readelf"},
		names("llvm/bin"), "clang and the binutils, links made copies; no other LLVM program")
	assert.ElementsMatch(t, []string{"libLLVM-14.so.1", "libtinfo.so.6", "libz.so.1"}, names("lib"),
		"the libraries loaded, by soname; not the one nothing loads, nor the C library")
	assert.ElementsMatch(t, []string{"include"}, names("llvm/lib/clang/14.0.6"), "the headers, not the runtimes")
	st, err := os.Stat(filepath.Join(u.Clang.Dir, "llvm", "bin", "llvm-strip"))
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&0o111, "executable")

	// Again: from the cache, hashed beside its use. An entry edited
	// behind the cache's back (the same size) fails that check, is
	// removed, and is made again on the next use.
	hits := m.HitsOf(pkgs[7].Filename())
	u, err = f.Userland(ctx, "amd64")
	require.NoError(t, err)
	require.NoError(t, u.Clang.Check())
	assert.Equal(t, hits, m.HitsOf(pkgs[7].Filename()), "nothing downloaded")
	lib := filepath.Join(u.Clang.Dir, "lib", "libz.so.1")
	data, err := os.ReadFile(lib)
	require.NoError(t, err)
	data[len(data)-1] ^= 0xff
	require.NoError(t, os.WriteFile(lib, data, 0o644))
	u, err = f.Userland(ctx, "amd64")
	require.NoError(t, err)
	err = u.Clang.Check()
	var mismatch *cache.HashMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.ErrorContains(t, err, "made again on the next use")
	assert.NoDirExists(t, u.Clang.Dir)
	u, err = f.Userland(ctx, "amd64")
	require.NoError(t, err)
	require.NoError(t, u.Clang.Check())
	assert.Equal(t, hits+1, m.HitsOf(pkgs[7].Filename()), "made again")
}

// A clang whose libraries the packages do not all hold is none: bash is
// still there, and the error names what is missing.
func TestUserlandClangMissingLibrary(t *testing.T) {
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", userlandPackages(t, "libgone.so.3"))
	var logs archivetest.Log
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs)
	u, err := f.Userland(context.Background(), "amd64")
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(u.Bash, "bash"))
	assert.Nil(t, u.Clang)
	assert.ErrorContains(t, u.ClangErr, "libLLVM-14.so.1 needs libgone.so.3, which none of the packages holds")
}

func TestClangPackages(t *testing.T) {
	index := []Package{
		{Name: "clang", Depends: "clang-19 (>= 19~)"},
		{Name: "clang-19", Depends: "libllvm19 (= 1:19.1.7-3), libc6 (>= 2.38), libstdc++-14-dev, libclang-cpp19 | libclang-cpp19-alt, llvm-19-linker-tools"},
		{Name: "libllvm19", Depends: "libc6, libedit2 (>= 2.11-20080614-4), zlib1g:any (>= 1:1.2.0)"},
		{Name: "libclang-cpp19", Depends: "libllvm19"},
		{Name: "libedit2"}, {Name: "zlib1g"}, {Name: "libtinfo6"},
		{Name: "llvm-19", Depends: "libcurl3t64-gnutls"},
		{Name: "libclang-common-19-dev"},
	}
	major, pkgs, err := clangPackages(index)
	require.NoError(t, err)
	assert.Equal(t, "19", major)
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"clang-19", "libllvm19", "libedit2", "zlib1g", "libclang-cpp19", "libtinfo6", "llvm-19", "libclang-common-19-dev"}, names)

	index[0].Depends = "clang-14-meta"
	_, _, err = clangPackages(index)
	assert.ErrorContains(t, err, `depends first on "clang-14-meta", not on a clang-N`)
	index[0].Depends = "clang-19"
	index = index[:4]
	_, _, err = clangPackages(index)
	assert.ErrorContains(t, err, "libllvm19's dependency: package not found: libedit2")
}

// A clang that fails to download is ksystest's error, not a guest
// without clang: its tests would fail as if the guest lacked it.
func TestUserlandClangDownloadFails(t *testing.T) {
	m := archivetest.NewMirror(t)
	pkgs := userlandPackages(t)
	m.Publish(t, "bookworm", "amd64", pkgs)
	m.Fault(pkgs[7].Filename(), func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	var logs archivetest.Log
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs)
	_, err := f.Userland(context.Background(), "amd64")
	require.Error(t, err)
	assert.ErrorContains(t, err, "libllvm14")
	var none *NoClangError
	assert.False(t, errors.As(err, &none))
}
