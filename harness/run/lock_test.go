package run

import (
	"context"
	"fmt"
	"testing"

	ksystest "github.com/ksystest/ksystest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/result"
)

// A kernel the lock refuses ends its cell as a config error, with the
// refusal as the reason; the run exits 2.
func TestRunLockRefusalIsConfigError(t *testing.T) {
	o, fake := setup(t, goodRun)
	refusal := &kernel.LockMismatchError{Lock: "images/kernels.lock", Target: "x86_64-6.1", Suite: "bookworm",
		Package: "linux-image-6.1.0-50-amd64", Version: "6.1.176-1"}
	o.Kernels = fakeKernels{err: fmt.Errorf("wrapped: %w", refusal)}
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	for _, c := range res.Cells {
		assert.Equal(t, result.OutcomeConfigError, c.Outcome, c.Target)
		assert.Contains(t, c.Reason, "ksystest lock --update")
		for _, cs := range c.Cases {
			assert.Equal(t, result.Fail, cs.Verdict, "a case never run is not a pass")
		}
	}
	assert.Empty(t, fake.Started, "nothing booted")
	assert.Equal(t, 2, res.ExitCode())
}

// The default matrix's lock pins every target that boots a Debian kernel,
// for the kernel it asks for: a target added without ksystest lock fails
// here, not in a user's run.
func TestDefaultMatrixIsLocked(t *testing.T) {
	m, err := matrix.Load("../../matrix.yaml", ksystest.Data)
	require.NoError(t, err)
	require.Equal(t, "images/kernels.lock", m.Lock)
	lf, ok := m.LockFile()
	require.True(t, ok)
	lock, err := kernel.ReadLock(lf.Disk)
	require.NoError(t, err)
	debian := 0
	for _, tg := range m.Targets.List {
		if tg.Kernel.Local != nil {
			continue
		}
		debian++
		a, err := arch.Lookup(tg.Arch)
		require.NoError(t, err)
		_, err = lock.Find(tg.Name, KernelRef(tg, a))
		assert.NoError(t, err)
	}
	assert.Len(t, lock.Kernels, debian, "no entry for a target the matrix no longer has")
}
