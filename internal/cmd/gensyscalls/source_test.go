package main

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// sourceTarball is a kernel source tarball as Debian ships it: xz, one
// top directory.
func sourceTarball(t *testing.T, links map[string]string, files map[string]string) *bytes.Buffer {
	var buf bytes.Buffer
	xw, err := xz.NewWriter(&buf)
	require.NoError(t, err)
	tw := tar.NewWriter(xw)
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "linux-source-6.12/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	for name, target := range links {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "linux-source-6.12/" + name, Linkname: target, Typeflag: tar.TypeSymlink}))
	}
	require.NoError(t, tw.Close())
	require.NoError(t, xw.Close())
	return &buf
}

func TestExtractSourceFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tarball := sourceTarball(t,
		map[string]string{"arch/arm64/tools/syscall_64.tbl": "../../../scripts/syscall.tbl", "arch/arm64/boot/dts/x.dts": "../../../arm/y.dts"},
		map[string]string{
			"scripts/syscall.tbl":        "0 common io_setup sys_io_setup\n",
			"kernel/fork.c":              "SYSCALL_DEFINE0(fork)\n{\n}\n",
			"kernel/panic.c":             "int x;\n",
			"kernel/Makefile":            "obj-y += fork.o\n",
			"arch/mips/kernel/scall.S":   "LEAF(sys_syscall)\n",
			"arch/mips/Kconfig":          "config MIPS\n",
			"arch/sparc/kernel/sys.c":    "SYSCALL_DEFINE0(sparc)\n{\n}\n",
			"tools/perf/builtin-trace.c": "SYSCALL_DEFINE0(no)\n",
		})
	require.NoError(t, extractSourceFiles(tarball, dir))

	fsys := os.DirFS(dir)
	data, err := fs.ReadFile(fsys, "arch/arm64/tools/syscall_64.tbl")
	require.NoError(t, err)
	assert.Equal(t, "0 common io_setup sys_io_setup\n", string(data))
	info, err := os.Lstat(filepath.Join(dir, "arch/arm64/tools/syscall_64.tbl"))
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular(), "a link becomes a copy: the cache keeps regular files")
	for _, kept := range []string{"kernel/fork.c", "kernel/Makefile", "arch/mips/kernel/scall.S", "arch/mips/Kconfig"} {
		assert.FileExists(t, filepath.Join(dir, kept))
	}
	for _, dropped := range []string{"kernel/panic.c", "arch/sparc/kernel/sys.c", "tools/perf/builtin-trace.c", "arch/arm64/boot/dts/x.dts"} {
		assert.NoFileExists(t, filepath.Join(dir, dropped))
	}
}

func TestExtractSourceFilesRefuses(t *testing.T) {
	t.Parallel()
	out := sourceTarball(t, map[string]string{"arch/arm64/tools/syscall_64.tbl": "../../../../etc/passwd"}, nil)
	assert.ErrorContains(t, extractSourceFiles(out, t.TempDir()), "link out of the tree")

	none := sourceTarball(t, nil, map[string]string{"kernel/fork.c": "int x;\n"})
	assert.ErrorContains(t, extractSourceFiles(none, t.TempDir()), "no syscall tables")

	dangling := sourceTarball(t, map[string]string{"arch/arm64/tools/syscall_64.tbl": "../../../scripts/gone.tbl"}, nil)
	assert.ErrorContains(t, extractSourceFiles(dangling, t.TempDir()), "which is not kept")
}
