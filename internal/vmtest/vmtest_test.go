package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gofrs/flock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A VM test skips under -short, CI or not (make unit boots nothing);
// otherwise a missing QEMU fails it under CI=true and skips it locally.
// The cases run this test again, with nothing on PATH.
func TestRequire(t *testing.T) {
	if os.Getenv("VMTEST_REQUIRE") != "" {
		Require(t, []string{"s390x"})
		return
	}
	for _, tc := range []struct {
		name, short, ci string
		fails           bool
		want            string
	}{
		{"short in CI", "true", "true", false, "VM test; -short"},
		{"short", "true", "", false, "VM test; -short"},
		{"CI", "false", "true", true, "VM test needs qemu-system-s390x (package qemu-system-misc)"},
		{"local", "false", "", false, "VM test needs qemu-system-s390x (package qemu-system-misc)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRequire$", "-test.v", "-test.short="+tc.short)
			cmd.Env = append(os.Environ(), "VMTEST_REQUIRE=1", "CI="+tc.ci, "PATH="+t.TempDir())
			out, err := cmd.CombinedOutput()
			assert.Equal(t, tc.fails, err != nil, "%s", out)
			assert.Contains(t, string(out), tc.want)
			if tc.fails {
				assert.Contains(t, string(out), "--- FAIL: TestRequire")
			} else {
				assert.Contains(t, string(out), "--- SKIP: TestRequire")
			}
		})
	}
}

// The VM test lock: held once per binary however many of its tests hold
// it, kept from other binaries meanwhile, and let go with the last.
func TestHoldSerializesBinaries(t *testing.T) {
	other := flock.New(filepath.Join(os.TempDir(), "ksystest-vmtests.lock"))
	t.Run("holders", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				hold(t) // the second does not wait for the first
				ok, err := other.TryLock()
				require.NoError(t, err)
				assert.False(t, ok, "another binary waits")
			})
		}
	})
	ok, err := other.TryLock()
	require.NoError(t, err)
	assert.True(t, ok, "let go with the last holder")
	require.NoError(t, other.Unlock())
}
