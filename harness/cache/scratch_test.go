package cache

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Host scratch that a killed run left is swept, and only that: not a
// live run's, not a young one, and nothing in the shared temporary
// directory without ksystest's lock beside it (the cache's fallback
// place, test directories, other programs' files).
func TestSweepHostScratch(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	old := time.Now().Add(-time.Hour)
	aged := func(p string) string {
		require.NoError(t, os.Chtimes(p, old, old))
		return p
	}
	mkdir := func(name string) string {
		p := filepath.Join(tmp, name)
		require.NoError(t, os.MkdirAll(p, 0o755))
		return p
	}

	live, done, err := HostScratch("x86_64-6.1").Make()
	require.NoError(t, err)
	aged(live)
	assert.FileExists(t, live+".lock")

	killed := aged(mkdir("ksystest-tmp-arm64-6.1-123"))
	require.NoError(t, os.WriteFile(filepath.Join(killed, "initramfs.cpio"), make([]byte, 3<<20), 0o644))
	aged(killed)
	require.NoError(t, os.WriteFile(killed+".lock", nil, 0o644))
	aged(killed + ".lock")
	lonelyLock := filepath.Join(tmp, "ksystest-tmp-gone-1.lock")
	require.NoError(t, os.WriteFile(lonelyLock, nil, 0o644))
	aged(lonelyLock)
	young := mkdir("ksystest-tmp-young-1")
	require.NoError(t, os.WriteFile(young+".lock", nil, 0o644))
	unlocked := aged(mkdir("ksystest-tmp-nolock-1"))
	cache := aged(mkdir("ksystest-cache"))
	other := aged(mkdir("ksystest-x86_64-6.1-99"))

	swept := SweepHostScratch()
	require.Len(t, swept, 1)
	assert.Equal(t, Swept{Dir: killed, Size: 3 << 20}, swept[0])
	assert.NoDirExists(t, killed)
	assert.NoFileExists(t, killed+".lock")
	assert.NoFileExists(t, lonelyLock)
	for _, kept := range []string{live, young, unlocked, cache, other} {
		assert.DirExists(t, kept)
	}

	done()
	assert.NoDirExists(t, live)
	assert.NoFileExists(t, live+".lock")
}

// A process that exits at once (a second Ctrl-C) removes the scratch it
// holds.
func TestRemoveLiveScratch(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	a, doneA, err := HostScratch("a").Make()
	require.NoError(t, err)
	b, _, err := HostScratch("b").Make()
	require.NoError(t, err)
	doneA()
	RemoveLiveScratch()
	for _, d := range []string{a, b} {
		assert.NoDirExists(t, d)
		assert.NoFileExists(t, d+".lock")
	}
	ents, err := os.ReadDir(os.TempDir())
	require.NoError(t, err)
	assert.Empty(t, ents)
}
