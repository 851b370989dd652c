// Package arch is the one table of per-architecture facts: which QEMU runs a
// guest, how it boots, which Go and bpf2go targets build for it, and how much
// slower it is under emulation. No other package switches on an architecture
// name; they read a field here. It imports nothing from the project.
package arch

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
)

// Arch describes one guest architecture.
type Arch struct {
	// Name is the name used in matrix.yaml and reports (uname -m style).
	Name string
	// GOARCH builds the guest agent; GOARM is set for 32-bit arm.
	GOARCH string
	GOARM  string
	// UnameMachine is what uname -m prints in the guest.
	UnameMachine string
	// DebianArch is the architecture in Debian's archive.
	DebianArch string
	// KernelFlavour is the Debian kernel flavour that boots under QEMU;
	// linux-image-<flavour> is its metapackage.
	KernelFlavour string
	// BPFTarget is the bpf2go -target that builds probes for this arch.
	BPFTarget string
	// SyscallPrefix is what CONFIG_ARCH_HAS_SYSCALL_WRAPPER puts in front of
	// sys_NAME on this arch.
	SyscallPrefix string

	// QEMU is the emulator binary; QEMUPackage the Debian/Ubuntu package
	// providing it (newer releases split s390x out as qemu-system-s390x),
	// QEMUFedora Fedora's.
	QEMU        string
	QEMUPackage string
	QEMUFedora  string
	Machine     string
	CPU         string
	// ConsoleArgs attach the chardev "con0" as the guest's console.
	ConsoleArgs []string
	// Console is the kernel's name for that console.
	Console string
	// HostGOARCH is the host GOARCH on which KVM can run this guest.
	HostGOARCH string
	// BootVmlinux boots the uncompressed kernel taken out of the
	// packaged image when the kernel supports it (x86: PVH), skipping the
	// image's self-decompression.
	BootVmlinux bool

	// CompatGOARCH builds the 32-bit helper for compat cases (programs of
	// the arch's 32-bit ABI on this 64-bit kernel); empty when Go has no
	// such port (s390x's 31-bit ABI). CompatGOARM goes with arm.
	CompatGOARCH string
	CompatGOARM  string

	// Slowdown scales boot and progress deadlines under emulation.
	Slowdown float64
}

var table = map[string]Arch{
	// 32-bit arm never selects CONFIG_ARCH_HAS_SYSCALL_WRAPPER: the real
	// kernel on the other side of BPF_KSYSCALL's LINUX_HAS_SYSCALL_WRAPPER.
	// Debian's LPAE flavour boots on QEMU's virt machine.
	"arm": {
		Name:          "arm",
		UnameMachine:  "armv7l",
		GOARCH:        "arm",
		GOARM:         "7",
		DebianArch:    "armhf",
		KernelFlavour: "armmp-lpae",
		BPFTarget:     "arm",
		SyscallPrefix: "__arm_",
		QEMU:          "qemu-system-arm",
		QEMUFedora:    "qemu-system-arm",
		QEMUPackage:   "qemu-system-arm",
		Machine:       "virt",
		CPU:           "cortex-a15",
		ConsoleArgs:   []string{"-serial", "chardev:con0"},
		Console:       "ttyAMA0",
		HostGOARCH:    "arm",
		Slowdown:      2,
	},
	"x86_64": {
		Name:          "x86_64",
		UnameMachine:  "x86_64",
		GOARCH:        "amd64",
		DebianArch:    "amd64",
		KernelFlavour: "amd64",
		BPFTarget:     "amd64",
		SyscallPrefix: "__x64_",
		QEMU:          "qemu-system-x86_64",
		QEMUFedora:    "qemu-system-x86",
		QEMUPackage:   "qemu-system-x86",
		Machine:       "q35",
		CPU:           "max",
		ConsoleArgs:   []string{"-serial", "chardev:con0"},
		Console:       "ttyS0",
		HostGOARCH:    "amd64",
		BootVmlinux:   true,
		CompatGOARCH:  "386",
		Slowdown:      1.5,
	},
	"arm64": {
		Name:          "arm64",
		UnameMachine:  "aarch64",
		GOARCH:        "arm64",
		DebianArch:    "arm64",
		KernelFlavour: "arm64",
		BPFTarget:     "arm64",
		SyscallPrefix: "__arm64_",
		QEMU:          "qemu-system-aarch64",
		QEMUFedora:    "qemu-system-aarch64",
		QEMUPackage:   "qemu-system-arm",
		Machine:       "virt",
		// cortex-a57 boots about 4x faster than max under TCG: max
		// emulates pointer authentication, which is slow.
		CPU:         "cortex-a57",
		ConsoleArgs: []string{"-serial", "chardev:con0"},
		Console:     "ttyAMA0",
		HostGOARCH:  "arm64",
		// cortex-a57 runs AArch32 at EL0, so 32-bit arm programs run.
		CompatGOARCH: "arm",
		CompatGOARM:  "7",
		Slowdown:     1,
	},
	"s390x": {
		Name:          "s390x",
		UnameMachine:  "s390x",
		GOARCH:        "s390x",
		DebianArch:    "s390x",
		KernelFlavour: "s390x",
		BPFTarget:     "s390x",
		SyscallPrefix: "__s390x_",
		QEMU:          "qemu-system-s390x",
		QEMUFedora:    "qemu-system-s390x",
		QEMUPackage:   "qemu-system-misc",
		Machine:       "s390-ccw-virtio",
		CPU:           "max",
		ConsoleArgs:   []string{"-device", "sclpconsole,chardev=con0"},
		Console:       "ttysclp0",
		HostGOARCH:    "s390x",
		Slowdown:      2,
	},
}

// Lookup returns the arch called name.
func Lookup(name string) (Arch, error) {
	a, ok := table[name]
	if !ok {
		return Arch{}, fmt.Errorf("unknown arch %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return a, nil
}

// ByGOARCH returns the arch whose guests run goarch programs natively.
func ByGOARCH(goarch string) (Arch, error) {
	for _, a := range table {
		if a.GOARCH == goarch {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("no arch for GOARCH %q", goarch)
}

// Names lists the known arch names, sorted.
func Names() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// All returns every arch, sorted by name.
func All() []Arch {
	var all []Arch
	for _, n := range Names() {
		all = append(all, table[n])
	}
	return all
}

// Native reports whether a guest of this arch runs natively on this host,
// which is the precondition for KVM.
func (a Arch) Native() bool { return a.HostGOARCH == runtime.GOARCH }
