package bpfbuild

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/internal/vmtest"
)

// A compiled object comes from the cache until a file the compile read
// changes; an object damaged in the cache is made again, not loaded.
func TestCompileCache(t *testing.T) {
	vmtest.Require(t, nil, "clang", "llvm-strip") // not a VM test, but as strict about its tools
	dir := t.TempDir()
	src := filepath.Join(dir, "p.bpf.c")
	hdr := filepath.Join(dir, "p.h")
	require.NoError(t, os.WriteFile(hdr, []byte("#define VALUE 1\n"), 0o644))
	require.NoError(t, os.WriteFile(src, []byte(`#include "p.h"
int x = VALUE;
__attribute__((section("license"), used)) char LICENSE[] = "GPL";
`), 0o644))
	c := &Compiler{Cache: &cache.Cache{Dir: t.TempDir()}}
	a, err := arch.Lookup("arm64")
	require.NoError(t, err)
	u := Unit{Source: src, Target: a.BPF}
	ctx := context.Background()

	first, err := c.Compile(ctx, u)
	require.NoError(t, err)
	assert.False(t, first.Cached)
	assert.Contains(t, first.Deps, hdr)
	want, err := os.ReadFile(first.Object)
	require.NoError(t, err)

	again, err := c.Compile(ctx, u)
	require.NoError(t, err)
	assert.True(t, again.Cached)
	assert.Equal(t, first.Object, again.Object)
	assert.Equal(t, first.Deps, again.Deps)

	// The header changes: compiled again, and the object differs.
	require.NoError(t, os.WriteFile(hdr, []byte("#define VALUE 2\n"), 0o644))
	changed, err := c.Compile(ctx, u)
	require.NoError(t, err)
	assert.False(t, changed.Cached, "a header changed")
	got, err := os.ReadFile(changed.Object)
	require.NoError(t, err)
	assert.NotEqual(t, want, got)

	// The object damaged in the cache: made again.
	require.NoError(t, os.WriteFile(changed.Object, []byte("not an object"), 0o644))
	fixed, err := c.Compile(ctx, u)
	require.NoError(t, err)
	assert.False(t, fixed.Cached, "a damaged entry is made again")
	data, err := os.ReadFile(fixed.Object)
	require.NoError(t, err)
	assert.Equal(t, got, data)
}
