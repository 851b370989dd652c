// Package vmtest holds what VM tests share: the check that what a real
// guest needs is here. Locally a VM test skips, with the reason, when
// QEMU, the Debian keyring or a compiler is missing, or under -short;
// under CI=true a missing prerequisite fails: a VM test that cannot run in
// CI is a failure, never a silent skip.
package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/image"
)

// Require skips or fails t unless QEMU for every arch, the Debian
// keyring, go and the given tools are here.
func Require(t testing.TB, arches []string, tools ...string) {
	t.Helper()
	var missing []string
	for _, name := range arches {
		a, err := arch.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exec.LookPath(a.QEMU); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", a.QEMU, a.QEMUPackage))
		}
	}
	if _, err := os.Stat(image.DefaultKeyring); err != nil {
		missing = append(missing, "the Debian archive keyring (package debian-archive-keyring)")
	}
	for _, tool := range append([]string{"go"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, "the "+tool+" tool")
		}
	}
	if len(missing) == 0 {
		if testing.Short() && os.Getenv("CI") != "true" {
			t.Skip("VM test; -short")
		}
		return
	}
	msg := "VM test needs " + strings.Join(missing, ", ") + "; `make deps` installs them"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
