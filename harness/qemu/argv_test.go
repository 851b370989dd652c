package qemu

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
)

func mustArch(t *testing.T, name string) arch.Arch {
	a, err := arch.Lookup(name)
	require.NoError(t, err)
	return a
}

func TestArgv(t *testing.T) {
	tested := map[string]bool{}
	defer func() {
		for _, a := range arch.All() {
			assert.True(t, tested[a.Name], "TestArgv has no row for %s", a.Name)
		}
	}()
	for _, tc := range []struct {
		arch  string
		accel string
		want  string
	}{
		{"x86_64", AccelTCG, "qemu-system-x86_64 -machine q35 -accel tcg -cpu max -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -serial chardev:con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=ttyS0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
		{"x86_64", AccelKVM, "qemu-system-x86_64 -machine q35 -accel kvm -cpu host -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -serial chardev:con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=ttyS0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
		{"arm64", AccelTCG, "qemu-system-aarch64 -machine virt -accel tcg -cpu cortex-a57 -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -serial chardev:con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=ttyAMA0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
		{"s390x", AccelTCG, "qemu-system-s390x -machine s390-ccw-virtio -accel tcg -cpu max -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -device sclpconsole,chardev=con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=ttysclp0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
		{"arm", AccelTCG, "qemu-system-arm -machine virt -accel tcg -cpu cortex-a15 -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -serial chardev:con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=ttyAMA0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
		{"mips64el", AccelTCG, "qemu-system-mips64el -machine malta -accel tcg -cpu 5KEc -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -serial chardev:con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=ttyS0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
		{"ppc64le", AccelTCG, "qemu-system-ppc64 -machine pseries,x-vof=on -accel tcg -cpu power9 -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -device spapr-vty,chardev=con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=hvc0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
		{"i386", AccelTCG, "qemu-system-i386 -machine q35 -accel tcg -cpu max -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -serial chardev:con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=ttyS0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
		{"riscv64", AccelTCG, "qemu-system-riscv64 -machine virt -accel tcg -cpu rv64 -smp 1 -m 512 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con0,signal=off -serial chardev:con0 -qmp unix:/run/q.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /k/initrd -append console=ttyS0 panic=-1 oops=panic quiet nowatchdog cryptomgr.notests rcupdate.rcu_expedited=1"},
	} {
		tested[tc.arch] = true
		t.Run(tc.arch+"-"+tc.accel, func(t *testing.T) {
			argv := Argv(Config{Arch: mustArch(t, tc.arch), Kernel: "/k/vmlinuz", Initrd: "/k/initrd",
				MemoryMB: 512, Accel: tc.accel, QMPSocket: "/run/q.sock"})
			assert.Equal(t, tc.want, strings.Join(argv, " "))
		})
	}
}

// Every arch's argv carries the exit-on-panic pair; without it a panicking
// guest would sit until the deadline instead of ending at once.
func TestArgvAlwaysExitsOnPanic(t *testing.T) {
	for _, a := range arch.All() {
		argv := Argv(Config{Arch: a, Accel: AccelTCG, MemoryMB: 256, ExtraCmdline: []string{"x=1"}, Paused: true})
		assert.Contains(t, argv, "-no-reboot", a.Name)
		app := argv[indexOf(argv, "-append")+1]
		assert.Contains(t, app, "panic=-1", a.Name)
		assert.True(t, strings.HasSuffix(app, " x=1"), app)
		assert.Equal(t, "-S", argv[len(argv)-1])
	}
}

func indexOf(s []string, v string) int {
	for i := range s {
		if s[i] == v {
			return i
		}
	}
	return -1
}

func TestChooseAccel(t *testing.T) {
	foreign := mustArch(t, "s390x")
	if runtime.GOARCH == "s390x" {
		foreign = mustArch(t, "x86_64")
	}
	dir := t.TempDir()
	kvm := filepath.Join(dir, "kvm")
	require.NoError(t, os.WriteFile(kvm, nil, 0o600))
	withVMX := filepath.Join(dir, "cpuinfo-vmx")
	require.NoError(t, os.WriteFile(withVMX, []byte("processor: 0\nflags\t\t: fpu vme vmx sse\n"), 0o644))
	noVMX := filepath.Join(dir, "cpuinfo")
	require.NoError(t, os.WriteFile(noVMX, []byte("processor: 0\nflags\t\t: fpu vme hypervisor sse\n"), 0o644))

	accel, why := ChooseAccel(foreign, KVMProbe{Device: kvm, CPUInfo: withVMX})
	assert.Equal(t, AccelTCG, accel)
	assert.Contains(t, why, "differs")

	x86 := arch.Arch{HostGOARCH: runtime.GOARCH}
	if runtime.GOARCH != "amd64" {
		t.Skip("the vmx/svm check is for amd64 hosts")
	}
	accel, why = ChooseAccel(x86, KVMProbe{Device: filepath.Join(dir, "none"), CPUInfo: withVMX})
	assert.Equal(t, AccelTCG, accel)
	assert.Contains(t, why, "unusable")

	accel, why = ChooseAccel(x86, KVMProbe{Device: kvm, CPUInfo: noVMX})
	assert.Equal(t, AccelTCG, accel)
	assert.Contains(t, why, "no vmx/svm")

	accel, _ = ChooseAccel(arch.Arch{HostGOARCH: "amd64"}, KVMProbe{Device: kvm, CPUInfo: withVMX})
	assert.Equal(t, AccelKVM, accel)
}

// .ci/install-deps (make deps) installs every arch's QEMU, from the
// package the arch table names (s390x's: the one its Debian release has).
func TestInstallDepsInstallsEveryQEMU(t *testing.T) {
	data, err := os.ReadFile("../../.ci/install-deps")
	require.NoError(t, err)
	lines := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		lines[strings.Trim(strings.TrimSpace(l), `"`)] = true
	}
	for _, a := range arch.All() {
		pkg := a.QEMUPackage
		if a.Name == "s390x" {
			pkg = "S390" // qemu-system-s390x where the release has it, else qemu-system-misc
		}
		assert.True(t, lines[a.QEMU+" "+pkg], "install-deps lacks the line %q", a.QEMU+" "+pkg)
	}
}
