package run

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/result"
)

// only keeps the targets of o named names, in the matrix's order.
func only(t *testing.T, o Options, names ...string) Options {
	t.Helper()
	var sel []matrix.Target
	for _, tg := range o.Matrix.Targets.List {
		if slices.Contains(names, tg.Name) {
			sel = append(sel, tg)
		}
	}
	require.Len(t, sel, len(names))
	o.Targets = sel
	return o
}

// A cell restored from the kernel's saved guest gets the verdicts a booted
// one gets, case by case, on four arches: one of them (riscv64) where
// QEMU 7.2 loses the timer of a guest saved busy.
func TestVMRestoredMatchesBooted(t *testing.T) {
	targets := []string{"x86_64-6.1", "arm64-6.1", "s390x-6.12", "riscv64-6.12"}
	o := only(t, vmOptions(t, "", "", "x86_64", "arm64", "s390x", "riscv64"), targets...)
	o.Cache = o.Kernels.(DebianKernels).Cache

	fresh := o
	fresh.Fresh, fresh.OutDir = true, t.TempDir()
	booted, err := Run(context.Background(), fresh)
	require.NoError(t, err)

	// Twice: the first may save the guests, the second restores them
	// from the cache as any later run does.
	for range 2 {
		o.OutDir = t.TempDir()
		restored, err := Run(context.Background(), o)
		require.NoError(t, err)
		assert.Equal(t, verdicts(booted), verdicts(restored))
		for i, c := range restored.Cells {
			assert.Equal(t, result.OutcomePass, c.Outcome, "%s: %s", c.Target, c.Reason)
			assert.Equal(t, result.StartRestored, c.Start, "%s: %s", c.Target, c.StartNote)
			assert.Equal(t, result.StartBooted, booted.Cells[i].Start)
			assert.Empty(t, booted.Cells[i].StartNote, "--fresh is no failed restore")
		}
	}
}

// A saved guest whose file changed is not restored: the hash taken while
// QEMU loads it disagrees with the manifest, the cell boots instead and
// says why, passes all the same, and the next run saves the guest again
// and restores it.
func TestVMCorruptSavedGuestIsMadeAgain(t *testing.T) {
	o := only(t, vmOptions(t, t.TempDir(), "", "x86_64"), "x86_64-6.1")
	o.Cache = o.Kernels.(DebianKernels).Cache
	run := func() result.Cell {
		o.OutDir = t.TempDir()
		res, err := Run(context.Background(), o)
		require.NoError(t, err)
		require.Len(t, res.Cells, 1)
		c := res.Cells[0]
		assert.Equal(t, result.OutcomePass, c.Outcome, c.Reason)
		return c
	}
	require.Equal(t, result.StartRestored, run().Start)

	states, err := filepath.Glob(o.Cache.Path("states", "*", stateFile))
	require.NoError(t, err)
	require.Len(t, states, 1, "one saved guest: the agent's of x86_64-6.1")
	flipByte(t, states[0])

	c := run()
	assert.Equal(t, result.StartBooted, c.Start)
	assert.Contains(t, c.StartNote, "restore failed: restore: the saved state: ")
	assert.Contains(t, c.StartNote, "sha256")
	assert.Contains(t, c.StartNote, "the saved guest is removed, and made again next time")
	assert.NoFileExists(t, states[0])

	assert.Equal(t, result.StartRestored, run().Start, "saved again")
	assert.FileExists(t, states[0])
}

// flipByte changes one byte in the middle of the file at path, keeping
// its size and its modification time: what a disk that rots does.
func flipByte(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	b := make([]byte, 1)
	off := st.Size() / 2
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	b[0] ^= 0x40
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(path, st.ModTime(), st.ModTime()))
	sum, err := cache.HashFile(path)
	require.NoError(t, err)
	require.Equal(t, st.Size(), sum.Size)
}
