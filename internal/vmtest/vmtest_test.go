package vmtest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
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
