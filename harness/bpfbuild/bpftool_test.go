package bpfbuild

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// script writes an executable shell script that exits with status.
func script(t *testing.T, path, status string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\nexit "+status+"\n"), 0o755))
	return path
}

// bpftool on PATH when it runs; else the newest kernel's tools that run
// (155 after 90, which text order would not give); Ubuntu's wrapper
// without the running kernel's tools does not count.
func TestBpftool(t *testing.T) {
	dir := t.TempDir()
	tools := filepath.Join(dir, "linux-tools", "*", "bpftool")
	bin := filepath.Join(dir, "bin")
	t.Setenv("PATH", bin)
	ctx := context.Background()

	_, err := Bpftool(ctx, tools)
	assert.ErrorContains(t, err, "no bpftool on PATH or at "+tools)

	script(t, filepath.Join(bin, "bpftool"), "2") // the wrapper
	_, err = Bpftool(ctx, tools)
	assert.ErrorContains(t, err, "does not run")

	script(t, filepath.Join(dir, "linux-tools", "6.8.0-90-generic", "bpftool"), "0")
	newest := script(t, filepath.Join(dir, "linux-tools", "6.8.0-155-generic", "bpftool"), "0")
	script(t, filepath.Join(dir, "linux-tools", "6.8.0-200-generic", "bpftool"), "1") // broken
	path, err := Bpftool(ctx, tools)
	require.NoError(t, err)
	assert.Equal(t, newest, path)

	onPath := script(t, filepath.Join(bin, "bpftool"), "0")
	path, err = Bpftool(ctx, tools)
	require.NoError(t, err)
	assert.Equal(t, onPath, path)
}

func TestVersionLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"6.8.0-90-generic", "6.8.0-155-generic", true},
		{"6.8.0-155-generic", "6.8.0-90-generic", false},
		{"5.15.0-1", "6.8.0-1", true},
		{"6.8.0-90-generic", "6.8.0-90-lowlatency", true},
		{"6.8", "6.8.0", true},
		{"6.8.0", "6.8.0", false},
	} {
		assert.Equal(t, tc.less, versionLess(tc.a, tc.b), "%s < %s", tc.a, tc.b)
	}
}
