// Package vmtest holds what VM tests share: the check that what a real
// guest needs is here, and building the programs they run in guests. A VM
// test skips under -short, CI or not: a -short run (make unit) is by
// definition not the run that boots guests. Otherwise it skips locally,
// with the reason, when QEMU, the Debian keyring or a compiler is missing;
// under CI=true a missing prerequisite fails: a VM test that cannot run in
// CI is a failure, never a silent skip.
package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gofrs/flock"

	"github.com/ksystest/ksystest/harness/arch"
)

// DebianKeyring is archive.DefaultKeyring, which VM tests need; vmtest
// does not import archive, whose tests use Missing (a test in archive
// holds the two equal).
const DebianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// Require skips t under -short; otherwise it skips or fails t unless QEMU
// for every arch, the Debian keyring, go and the given tools are here.
func Require(t testing.TB, arches []string, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("VM test; -short")
	}
	var missing []string
	seen := map[string]bool{}
	for _, name := range arches {
		if seen[name] {
			continue
		}
		seen[name] = true
		a, err := arch.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exec.LookPath(a.QEMU); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", a.QEMU, a.QEMUPackage))
		}
	}
	if _, err := os.Stat(DebianKeyring); err != nil {
		missing = append(missing, "the Debian archive keyring (package debian-archive-keyring)")
	}
	for _, tool := range append([]string{"go"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, "the "+tool+" tool")
		}
	}
	if len(missing) == 0 {
		hold(t)
		return
	}
	msg := "VM test needs " + strings.Join(missing, ", ") + "; `make deps` installs them"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// guests serializes VM tests across test binaries: go test runs
// packages at once, and two packages' guests on a 2-core host starve
// each other (a restored mips64el cell took 32 s to start its agent, not
// 8, with cmd/ksystest's exec guests beside it). Within a binary, VM
// tests run as they are written (some in parallel, with their own bounds).
var guests struct {
	sync.Mutex
	held int
	lock *flock.Flock
}

// hold takes the host-wide VM test lock for t, unless this binary holds
// it already, until t and the others of this binary holding it are done.
func hold(t testing.TB) {
	guests.Lock()
	defer guests.Unlock()
	if guests.held == 0 {
		if guests.lock == nil {
			guests.lock = flock.New(filepath.Join(os.TempDir(), "ksystest-vmtests.lock"))
		}
		if err := guests.lock.Lock(); err != nil {
			t.Fatalf("the VM test lock: %v", err)
		}
	}
	guests.held++
	t.Cleanup(func() {
		guests.Lock()
		defer guests.Unlock()
		if guests.held--; guests.held == 0 {
			guests.lock.Unlock()
		}
	})
}

var (
	builtMu sync.Mutex
	built   = map[string]string{}
)

// GoBuild builds the main package pkg (a directory, or an import path)
// static for port t, once per test binary, and returns the program's
// path: one per package and port in the system's temporary directory,
// replaced atomically, so test binaries running at once share it and
// nothing piles up.
func GoBuild(tb testing.TB, pkg string, t arch.GoTarget) string {
	tb.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	key := pkg + "\x00" + t.Key()
	if p, ok := built[key]; ok {
		return p
	}
	dir := filepath.Join(os.TempDir(), "ksystest-vmtest-programs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(pkg)+"."+t.Key())
	tmp := fmt.Sprintf("%s.%d", out, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, pkg)
	cmd.Env = append(os.Environ(), t.Env()...)
	cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s for %s: %v\n%s", pkg, t, err, msg)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	built[key] = out
	return out
}

// ProcessesWith returns the PIDs of the host's processes whose command
// line holds marker: a test's QEMU, left running or not.
func ProcessesWith(t testing.TB, marker string) []string {
	t.Helper()
	var found []string
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), marker) {
			found = append(found, e.Name())
		}
	}
	return found
}

// Missing skips or fails t for a prerequisite that is not here (a tool,
// the keyring), which `make deps` installs: under -short it skips, CI or
// not, since make unit runs on hosts without them (GitHub's unit job);
// otherwise CI=true fails, and a local run skips with the reason.
func Missing(t testing.TB, what string) {
	t.Helper()
	msg := what + "; `make deps` installs it"
	if os.Getenv("CI") == "true" && !testing.Short() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
