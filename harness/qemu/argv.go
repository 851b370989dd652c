// Package qemu builds QEMU command lines (a pure function of arch, kernel,
// initramfs and options, table-tested without QEMU) and runs QEMU processes,
// controlled over QMP with github.com/digitalocean/go-qemu. It knows
// nothing of agents or verdicts; it imports arch only.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/ksystest/ksystest/harness/arch"
)

// Accel names.
const (
	AccelKVM = "kvm"
	AccelTCG = "tcg"
)

// Config is everything that decides a guest's command line.
type Config struct {
	Arch     arch.Arch
	Kernel   string // vmlinuz path
	Initrd   string // initramfs path
	MemoryMB int
	// CPUs is the guest's CPU count (0: 1).
	CPUs  int
	Accel string // AccelKVM or AccelTCG
	// QMPSocket is the unix socket QEMU listens on for QMP.
	QMPSocket string
	// ExtraCmdline is appended to the kernel command line.
	ExtraCmdline []string
	// Paused starts QEMU with its CPU stopped (-S): the guest never runs.
	// Tests use it to make a real QEMU that hangs.
	Paused bool
	// Shares are host directories the guest may mount (virtio-9p), read
	// only, by tag. Their devices are part of the machine a saved state
	// was made on; the directories may differ from run to run.
	Shares []Share
	// Restore starts the machine from a saved state read on fd 3
	// (-incoming fd:3) instead of booting: no kernel, initramfs or
	// command line, which live in the saved memory.
	Restore bool
}

// Share is a host directory a guest may mount over virtio-9p.
type Share struct {
	Tag, Dir string
}

// Cmdline is the kernel command line: the arch's console, exit on panic
// (panic=-1 reboots at once, -no-reboot turns that into QEMU exiting),
// oopses escalated to panics so a broken kernel ends the run instead of
// hanging it, and quiet so the console carries mostly events. Under
// emulation on a busy host a guest's CPU can stall for seconds without
// the kernel being at fault: nowatchdog keeps the lockup detectors from
// calling that a kernel BUG, and cryptomgr.notests skips the crypto self
// tests, which are slow to emulate and test nothing ksystest looks at.
// rcupdate.rcu_expedited=1 makes RCU grace periods expedited: detaching a
// kprobe waits for one, and on one emulated CPU a normal grace period
// costs tens of milliseconds of timer ticks (attach and detach of a cell's
// probes: 0.9 s to 0.14 s on arm64-6.1). It changes how soon memory is
// reclaimed, nothing a probe reads.
func Cmdline(a arch.Arch, extra ...string) string {
	parts := append([]string{"console=" + a.Console, "panic=-1", "oops=panic", "quiet", "nowatchdog", "cryptomgr.notests", "rcupdate.rcu_expedited=1"}, extra...)
	return strings.Join(parts, " ")
}

// Argv returns QEMU's argv, binary first. The console is QEMU's stdio on
// chardev con0; -nodefaults keeps QEMU from adding devices the guest does
// not need, -no-reboot makes a guest reboot (panic) end QEMU.
func Argv(c Config) []string {
	a := c.Arch
	cpu := a.CPU
	if c.Accel == AccelKVM {
		cpu = "host"
	}
	argv := []string{
		a.QEMU,
		"-machine", a.Machine,
		"-accel", c.Accel,
		"-cpu", cpu,
		"-smp", fmt.Sprint(max(c.CPUs, 1)),
		"-m", fmt.Sprint(c.MemoryMB),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-chardev", "stdio,id=con0,signal=off",
	}
	argv = append(argv, a.ConsoleArgs...)
	argv = append(argv, "-qmp", "unix:"+c.QMPSocket+",server=on,wait=off")
	for i, sh := range c.Shares {
		id := fmt.Sprintf("fs%d", i)
		argv = append(argv,
			"-fsdev", "local,id="+id+",path="+sh.Dir+",readonly=on,security_model=none",
			"-device", "virtio-9p-"+a.VirtioBus+",fsdev="+id+",mount_tag="+sh.Tag)
	}
	if c.Restore {
		argv = append(argv, "-incoming", "fd:3")
	} else {
		argv = append(argv,
			"-kernel", c.Kernel,
			"-initrd", c.Initrd,
			"-append", Cmdline(a, c.ExtraCmdline...),
		)
	}
	if c.Paused {
		argv = append(argv, "-S")
	}
	return argv
}

// Machine is the part of an argv that makes the machine a saved state
// belongs to: everything but what may change between the save and a
// restore (the QMP socket, the shares' host directories, the paths of the
// kernel and initramfs, how it starts).
// A saved state is keyed by it.
func Machine(c Config) string {
	// The kernel and initramfs are named by their contents in the key:
	// their paths may change.
	c.QMPSocket, c.Restore, c.Kernel, c.Initrd = "", false, "KERNEL", "INITRD"
	c.Shares = slices.Clone(c.Shares)
	for i := range c.Shares {
		c.Shares[i].Dir = "DIR"
	}
	return strings.Join(Argv(c), " ")
}

// KVMProbe says whether KVM can run guests here. The real one opens the
// device and, on x86, also wants the CPU's virtualisation flag: a /dev/kvm
// that opens but sits on a CPU without vmx/svm boots guests that hang
// (seen on nested cloud machines).
type KVMProbe struct {
	Device  string // /dev/kvm
	CPUInfo string // /proc/cpuinfo
}

// HostKVM is this host's KVM.
var HostKVM = KVMProbe{Device: "/dev/kvm", CPUInfo: "/proc/cpuinfo"}

// ChooseAccel returns KVM when the guest is the host's arch and KVM is
// usable, TCG otherwise, with the reason.
func ChooseAccel(a arch.Arch, p KVMProbe) (accel, why string) {
	if err := CheckKVM(a, p); err != nil {
		return AccelTCG, err.Error()
	}
	return AccelKVM, p.Device + " usable"
}

// CheckKVM says why KVM cannot run a's guests here; nil when it can.
func CheckKVM(a arch.Arch, p KVMProbe) error {
	if !a.Native() {
		return errors.New("guest arch differs from host")
	}
	f, err := os.OpenFile(p.Device, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%s unusable: %v", p.Device, err)
	}
	f.Close()
	if a.HostGOARCH == "amd64" {
		info, err := os.ReadFile(p.CPUInfo)
		if err != nil {
			return fmt.Errorf("cannot read %s: %v", p.CPUInfo, err)
		}
		if !hasFlag(string(info), "vmx") && !hasFlag(string(info), "svm") {
			return fmt.Errorf("%s exists but the CPU has no vmx/svm flag", p.Device)
		}
	}
	return nil
}

func hasFlag(cpuinfo, flag string) bool {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if strings.HasPrefix(line, "flags") {
			for _, f := range strings.Fields(line) {
				if f == flag {
					return true
				}
			}
		}
	}
	return false
}

var versions sync.Map // QEMU binary → its version line

// Version is the first line of the arch's QEMU's --version ("QEMU
// emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"), asked once
// per process: a saved machine is QEMU's own format.
func Version(ctx context.Context, a arch.Arch) (string, error) {
	if v, ok := versions.Load(a.QEMU); ok {
		return v.(string), nil
	}
	out, err := exec.CommandContext(ctx, a.QEMU, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", a.QEMU, err)
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	versions.Store(a.QEMU, v)
	return v, nil
}
