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
		map[string]string{"arch/arm64/tools/syscall_64.tbl": "../../../scripts/syscall.tbl"},
		map[string]string{"scripts/syscall.tbl": "0 common io_setup sys_io_setup\n", "kernel/fork.c": "int x;\n"})
	require.NoError(t, extractSourceFiles(tarball, dir))

	data, err := fs.ReadFile(os.DirFS(dir), "arch/arm64/tools/syscall_64.tbl")
	require.NoError(t, err)
	assert.Equal(t, "0 common io_setup sys_io_setup\n", string(data))
	assert.NoFileExists(t, filepath.Join(dir, "kernel/fork.c"))
}

func TestExtractSourceFilesRefuses(t *testing.T) {
	t.Parallel()
	out := sourceTarball(t, map[string]string{"arch/arm64/tools/syscall_64.tbl": "../../../../etc/passwd"}, nil)
	assert.ErrorContains(t, extractSourceFiles(out, t.TempDir()), "link out of the tree")

	none := sourceTarball(t, nil, map[string]string{"kernel/fork.c": "int x;\n"})
	assert.ErrorContains(t, extractSourceFiles(none, t.TempDir()), "no syscall tables")
}
