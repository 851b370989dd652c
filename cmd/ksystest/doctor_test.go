package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
)

// On a host without qemu-system-s390x or any C toolchain, doctor names
// the packages to install, as this host's system names them, and exits
// non-zero.
func TestDoctorNamesMissingQEMU(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"qemu-system-x86_64", "qemu-system-i386", "qemu-system-aarch64", "qemu-system-arm",
		"qemu-system-mips64el", "qemu-system-ppc64", "qemu-system-riscv64", "pahole", "xz", "go"} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\necho 'QEMU emulator version 7.2.0'\n"), 0o755))
	}
	t.Setenv("PATH", bin)
	keyring := "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(keyring); err != nil {
		t.Skip("needs the Debian keyring to isolate the QEMU check")
	}
	code, out, errs := runCLI(t, "doctor", "--debian-mirror", "http://127.0.0.1:9/debian", "--ubuntu-mirror", "http://127.0.0.1:9/ubuntu",
		"--cache-dir", t.TempDir())
	assert.Equal(t, exitInfra, code, out+errs)
	assert.Regexp(t, `qemu s390x\s+MISSING\s+qemu-system-s390x not on PATH`, out)
	assert.Regexp(t, `qemu x86_64\s+ok\s+QEMU emulator version 7.2.0`, out)
	assert.Regexp(t, `cc arm64\s+MISSING\s+no aarch64-linux-gnu-gcc on PATH \(the C workloads\)`, out)
	assert.Regexp(t, `ubuntu mirror\s+ok\s+http://127.0.0.1:9/ubuntu \(from --ubuntu-mirror\)`, out)
	sys := readHostSystem("/etc/os-release")
	s390x, err := arch.Lookup("s390x")
	require.NoError(t, err)
	if sys.known() {
		for _, p := range []string{sys.qemuPackage(s390x), "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"} {
			assert.Regexp(t, `\n  `+regexp.QuoteMeta(sys.name)+`: sudo apt-get install [^\n]*\b`+p+`\b`, out)
		}
	}
	assert.NotContains(t, out, "qemu-system-arm ", "present arches are not listed to install")
}

// Debian 12 and 13 and Ubuntu 22.04 and 24.04 name s390x's QEMU, bpftool
// and an lld of LLVM 18 or newer as .ci/install-deps installs them.
func TestHostSystemPackages(t *testing.T) {
	s390x, err := arch.Lookup("s390x")
	require.NoError(t, err)
	dir := t.TempDir()
	for _, c := range []struct {
		osRelease, name, qemu, lld string
	}{
		{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
			"Debian GNU/Linux 12 (bookworm)", "qemu-system-misc", "lld-19"},
		{"PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nVERSION_ID=\"13\"\nID=debian\n", "Debian GNU/Linux 13 (trixie)", "qemu-system-s390x", "lld"},
		{"PRETTY_NAME=\"Debian GNU/Linux forky/sid\"\nID=debian\n", "Debian GNU/Linux forky/sid", "qemu-system-s390x", "lld"},
		{"PRETTY_NAME=\"Ubuntu 22.04.5 LTS\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\n", "Ubuntu 22.04.5 LTS", "qemu-system-s390x", ""},
		{"PRETTY_NAME=\"Ubuntu 24.04.3 LTS\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n", "Ubuntu 24.04.3 LTS", "qemu-system-s390x", "lld"},
		{"ID=fedora\nVERSION_ID=42\n", "fedora", "qemu-system-misc", "lld-19"},
	} {
		p := filepath.Join(dir, "os-release")
		require.NoError(t, os.WriteFile(p, []byte(c.osRelease), 0o644))
		sys := readHostSystem(p)
		assert.Equal(t, c.name, sys.name)
		assert.Equal(t, c.qemu, sys.qemuPackage(s390x), c.name)
		assert.Equal(t, c.lld, sys.lldPackage(), c.name)
	}
	assert.Equal(t, hostSystem{}, readHostSystem(filepath.Join(dir, "none")))
}
