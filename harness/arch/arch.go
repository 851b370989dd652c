// Package arch is the one table of per-architecture facts: which QEMU runs a
// guest, how it boots, which Go, BPF and C compilers build for it, what its
// programs look like, and how much slower it is under emulation. No other
// package switches on an architecture name; they read a field here. It
// imports nothing from the project.
package arch

import (
	"debug/elf"
	"fmt"
	"runtime"
	"sort"
	"strings"
)

// Arch describes one guest architecture.
type Arch struct {
	// Name is the name used in matrix.yaml and reports.
	Name string
	// Go builds the guest agent (static, GOOS=linux).
	Go GoTarget
	// UnameMachine is what uname -m prints in the guest.
	UnameMachine string
	// DebianArch is the architecture in Debian's archive.
	DebianArch string
	// KernelFlavour is the Debian kernel flavour that boots under QEMU;
	// linux-image-<flavour> is its metapackage.
	KernelFlavour string
	// BPF is how probes are compiled for this arch's kernels.
	BPF BPFTarget
	// SyscallPrefix is what CONFIG_ARCH_HAS_SYSCALL_WRAPPER puts in front of
	// sys_NAME on this arch.
	SyscallPrefix string
	// LoaderPrefix is the prefix cilium/ebpf v0.22 puts in front of
	// sys_bpf to detect the wrapper (internal/linux.PlatformPrefix for the
	// agent's GOARCH): where the kernel has the wrapper but no such
	// symbol, the loader resolves LINUX_HAS_SYSCALL_WRAPPER to 0.
	LoaderPrefix string
	// Libbpf are the libbpf versions Debian ships for this arch, oldest
	// first ("1.1": bookworm's, "1.5": trixie's): the libbpf loaders a
	// guest of this arch can run.
	Libbpf []string
	// FtraceEntrySize is the size of the ftrace patch site at the entry
	// of every function, where the arch has one there: a kernel with
	// CONFIG_DYNAMIC_FTRACE but without CONFIG_KPROBES_ON_FTRACE refuses
	// a kprobe on it (EINVAL), so ksystest attaches its probes past it.
	FtraceEntrySize uint64

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
	// VirtioBus is the suffix of the machine's virtio devices: "pci", or
	// "ccw" on s390x (virtio-9p-pci, virtio-9p-ccw).
	VirtioBus string
	// Console is the kernel's name for that console.
	Console string
	// MaxCPUs bounds the guest's CPUs where the machine takes fewer than
	// asked (0: no bound).
	MaxCPUs int
	// NoStringsAtEntry, when set, says why the workloads' tracepoint does
	// not copy a call's string arguments from user memory at sys_enter
	// on this arch (their numbers are compared all the same).
	NoStringsAtEntry string
	// HostGOARCH is the host GOARCH on which KVM can run this guest.
	HostGOARCH string
	// BootVmlinux boots the uncompressed kernel taken out of the
	// packaged image when the kernel supports it (x86: PVH), skipping the
	// image's self-decompression.
	BootVmlinux bool

	// TLS says how a tracer reads a stopped child's TLS register, the one
	// clone(CLONE_SETTLS) sets: the clone effect check reads it.
	TLS TLSRead

	// Compat builds the 32-bit helper for compat cases (programs of the
	// arch's 32-bit ABI on this 64-bit kernel); nil when the kernel has no
	// such ABI or Go has no port for it (s390x's 31-bit ABI).
	Compat *GoTarget

	// Slowdown scales boot and progress deadlines under emulation.
	Slowdown float64

	// CrossCC is the gcc that builds C programs for this arch's guests
	// (the workload client, static with glibc), as Debian names it.
	// CrossCCPackage is the Debian package providing it and
	// CrossLibcPackage the static C library it links; on a host of this
	// arch Debian has no cross compiler to it, and gcc and libc6-dev
	// provide both (harness/guestbuild).
	CrossCC          string
	CrossCCPackage   string
	CrossLibcPackage string
	// QEMUUser runs this arch's programs on a host of another (Debian's
	// qemu-user; qemu-user-static names it with "-static" appended), so
	// that guest programs can be tried without booting a guest.
	QEMUUser string
	// ELFMachine, ELFClass and ELFData are what the ELF header of this
	// arch's programs says: a check that a program built for a guest
	// really is for it.
	ELFMachine elf.Machine
	ELFClass   elf.Class
	ELFData    elf.Data
}

// GoTarget is a Go port a guest program is built for.
type GoTarget struct {
	GOARCH string
	// GOARM (arm), GOMIPS (mips, mipsle) or GOMIPS64 (mips64, mips64le),
	// when the port needs one.
	GOARM, GOMIPS, GOMIPS64 string
}

// Env is the environment that selects the port.
func (g GoTarget) Env() []string {
	env := append([]string{"GOOS=linux", "GOARCH=" + g.GOARCH}, g.variant()...)
	sort.Strings(env)
	return env
}

// variant is GOARM=, GOMIPS= or GOMIPS64= when the port needs one.
func (g GoTarget) variant() []string {
	var out []string
	for _, kv := range [][2]string{{"GOARM", g.GOARM}, {"GOMIPS", g.GOMIPS}, {"GOMIPS64", g.GOMIPS64}} {
		if kv[1] != "" {
			out = append(out, kv[0]+"="+kv[1])
		}
	}
	return out
}

// Key names the port in file names: "arm64", "arm.GOARM7".
func (g GoTarget) Key() string {
	return strings.ReplaceAll(strings.Join(append([]string{g.GOARCH}, g.variant()...), "."), "=", "")
}

// String names the port: "arm64", "arm (GOARM=7)".
func (g GoTarget) String() string {
	if v := g.variant(); len(v) > 0 {
		return g.GOARCH + " (" + strings.Join(v, ", ") + ")"
	}
	return g.GOARCH
}

// TLSRead is where ptrace finds a child's thread pointer.
type TLSRead struct {
	// Regset is the PTRACE_GETREGSET note to read (NT_PRSTATUS is 1,
	// NT_ARM_TLS 0x401); 0 means PTRACE_GET_THREAD_AREA (request
	// ThreadArea) instead.
	Regset uint32
	// Offset and Size locate the value in the regset.
	Offset, Size int
	// ThreadArea is PTRACE_GET_THREAD_AREA's request number (22 on arm,
	// 25 on x86 and mips).
	ThreadArea int
	// UserDesc: CLONE_SETTLS takes a struct user_desc (i386), not a value.
	UserDesc bool
}

// BPFTarget is a clang BPF target and the arch name libbpf's headers
// expect in __TARGET_ARCH_*, the pair bpf2go uses too. Several arches may
// share one (x86_64 and i386 both load x86 objects, as bpf2go builds them
// for GOARCH amd64 and 386).
type BPFTarget struct {
	// Clang is "bpfel" or "bpfeb".
	Clang string
	// Linux is the kernel's arch directory name: x86, arm64, s390, ...
	Linux string
}

// Suffix names an object for this target, as bpf2go does: "x86_bpfel".
func (b BPFTarget) Suffix() string { return b.Linux + "_" + b.Clang }

var table = map[string]Arch{
	"x86_64": {
		Name:          "x86_64",
		UnameMachine:  "x86_64",
		Go:            GoTarget{GOARCH: "amd64"},
		DebianArch:    "amd64",
		KernelFlavour: "amd64",
		BPF:           BPFTarget{"bpfel", "x86"},
		SyscallPrefix: "__x64_",
		LoaderPrefix:  "__x64_",
		Libbpf:        []string{"1.1", "1.5"},
		QEMU:          "qemu-system-x86_64",
		QEMUFedora:    "qemu-system-x86",
		QEMUPackage:   "qemu-system-x86",
		Machine:       "q35",
		CPU:           "max",
		ConsoleArgs:   []string{"-serial", "chardev:con0"},
		VirtioBus:     "pci",
		Console:       "ttyS0",
		HostGOARCH:    "amd64",
		BootVmlinux:   true,
		Compat:        &GoTarget{GOARCH: "386"},
		TLS:           TLSRead{Regset: 1, Offset: 21 * 8, Size: 8}, // user_regs_struct.fs_base
		Slowdown:      1.5,

		CrossCC:          "x86_64-linux-gnu-gcc",
		CrossCCPackage:   "gcc-x86-64-linux-gnu",
		CrossLibcPackage: "libc6-dev-amd64-cross",
		QEMUUser:         "qemu-x86_64",
		ELFMachine:       elf.EM_X86_64,
		ELFClass:         elf.ELFCLASS64,
		ELFData:          elf.ELFDATA2LSB,
	},
	"arm64": {
		Name:          "arm64",
		UnameMachine:  "aarch64",
		Go:            GoTarget{GOARCH: "arm64"},
		DebianArch:    "arm64",
		KernelFlavour: "arm64",
		BPF:           BPFTarget{"bpfel", "arm64"},
		SyscallPrefix: "__arm64_",
		LoaderPrefix:  "__arm64_",
		Libbpf:        []string{"1.1", "1.5"},
		QEMU:          "qemu-system-aarch64",
		QEMUFedora:    "qemu-system-aarch64",
		QEMUPackage:   "qemu-system-arm",
		Machine:       "virt",
		// cortex-a57 boots about 4x faster than max under TCG: max
		// emulates pointer authentication, which is slow.
		CPU:         "cortex-a57",
		ConsoleArgs: []string{"-serial", "chardev:con0"},
		VirtioBus:   "pci",
		Console:     "ttyAMA0",
		HostGOARCH:  "arm64",
		// cortex-a57 runs AArch32 at EL0, so 32-bit arm programs run.
		Compat:   &GoTarget{GOARCH: "arm", GOARM: "7"},
		TLS:      TLSRead{Regset: 0x401, Offset: 0, Size: 8}, // NT_ARM_TLS: tpidr_el0
		Slowdown: 1,

		CrossCC:          "aarch64-linux-gnu-gcc",
		CrossCCPackage:   "gcc-aarch64-linux-gnu",
		CrossLibcPackage: "libc6-dev-arm64-cross",
		QEMUUser:         "qemu-aarch64",
		ELFMachine:       elf.EM_AARCH64,
		ELFClass:         elf.ELFCLASS64,
		ELFData:          elf.ELFDATA2LSB,
	},
	"s390x": {
		Name:          "s390x",
		UnameMachine:  "s390x",
		Go:            GoTarget{GOARCH: "s390x"},
		DebianArch:    "s390x",
		KernelFlavour: "s390x",
		BPF:           BPFTarget{"bpfeb", "s390"},
		SyscallPrefix: "__s390x_",
		LoaderPrefix:  "__s390x_",
		Libbpf:        []string{"1.1", "1.5"},
		QEMU:          "qemu-system-s390x",
		QEMUFedora:    "qemu-system-s390x",
		QEMUPackage:   "qemu-system-misc",
		Machine:       "s390-ccw-virtio",
		CPU:           "max",
		ConsoleArgs:   []string{"-device", "sclpconsole,chardev=con0"},
		VirtioBus:     "ccw",
		Console:       "ttysclp0",
		HostGOARCH:    "s390x",
		TLS:           TLSRead{Regset: 1, Offset: 16 + 16*8, Size: 8}, // acrs[0]:acrs[1] after psw and gprs
		Slowdown:      2,

		CrossCC:          "s390x-linux-gnu-gcc",
		CrossCCPackage:   "gcc-s390x-linux-gnu",
		CrossLibcPackage: "libc6-dev-s390x-cross",
		QEMUUser:         "qemu-s390x",
		ELFMachine:       elf.EM_S390,
		ELFClass:         elf.ELFCLASS64,
		ELFData:          elf.ELFDATA2MSB,
	},
	// 32-bit arm never selects CONFIG_ARCH_HAS_SYSCALL_WRAPPER: the real
	// kernel on the other side of BPF_KSYSCALL's LINUX_HAS_SYSCALL_WRAPPER.
	// Debian's LPAE flavour boots on QEMU's virt machine.
	"arm": {
		Name:          "arm",
		UnameMachine:  "armv7l",
		Go:            GoTarget{GOARCH: "arm", GOARM: "7"},
		DebianArch:    "armhf",
		KernelFlavour: "armmp-lpae",
		BPF:           BPFTarget{"bpfel", "arm"},
		SyscallPrefix: "__arm_",
		LoaderPrefix:  "__arm_",
		Libbpf:        []string{"1.1", "1.5"},
		QEMU:          "qemu-system-arm",
		QEMUFedora:    "qemu-system-arm",
		QEMUPackage:   "qemu-system-arm",
		Machine:       "virt",
		CPU:           "cortex-a15",
		ConsoleArgs:   []string{"-serial", "chardev:con0"},
		VirtioBus:     "pci",
		Console:       "ttyAMA0",
		HostGOARCH:    "arm",
		TLS:           TLSRead{ThreadArea: 22},
		Slowdown:      2,

		CrossCC:          "arm-linux-gnueabihf-gcc",
		CrossCCPackage:   "gcc-arm-linux-gnueabihf",
		CrossLibcPackage: "libc6-dev-armhf-cross",
		QEMUUser:         "qemu-arm",
		ELFMachine:       elf.EM_ARM,
		ELFClass:         elf.ELFCLASS32,
		ELFData:          elf.ELFDATA2LSB,
	},
	// A 64-bit kernel without the syscall wrapper: mips never selects
	// CONFIG_ARCH_HAS_SYSCALL_WRAPPER. The 5KEc has no FPU, so Go programs
	// are built soft-float rather than trapping into the kernel's FPU
	// emulator. The kernel runs o32 programs (CONFIG_MIPS32_O32), which Go
	// builds as GOARCH=mipsle. C programs cannot avoid the FPU: Debian's
	// static glibc is hard-float and uses it from startup on, so on the
	// 5KEc they depend on the kernel's FPU emulator, and under qemu-user
	// (which has none) they run only on a CPU with an FPU, its default:
	// with -cpu 5KEc the client dies of SIGILL before main.
	"mips64el": {
		Name:          "mips64el",
		UnameMachine:  "mips64",
		Go:            GoTarget{GOARCH: "mips64le", GOMIPS64: "softfloat"},
		DebianArch:    "mips64el",
		KernelFlavour: "5kc-malta",
		BPF:           BPFTarget{"bpfel", "mips"},
		SyscallPrefix: "__mips_",
		LoaderPrefix:  "__mips_",
		Libbpf:        []string{"1.1"},
		QEMU:          "qemu-system-mips64el",
		QEMUFedora:    "qemu-system-mips",
		QEMUPackage:   "qemu-system-mips",
		Machine:       "malta",
		CPU:           "5KEc",
		// With -smp 2 (QEMU 7.2, -cpu 5KEc) the 6.12 5kc-malta kernel
		// goes silent 15 s into its boot and never reaches init (seen in
		// exec guests, at -m 512 and -m 2048); with -smp 1 it boots.
		MaxCPUs: 1,
		// Debian's 6.12 5kc-malta kernel oopses in __strncpy_from_user_asm
		// (a TLB load miss at the user address, no fixup: "Unable to
		// handle kernel paging request", then a panic) when the
		// tracepoint's bpf_probe_read_user_str copies a string from a page
		// the program has not touched yet (net/http's openat paths; seen
		// under the httpget workload).
		NoStringsAtEntry: "Debian's mips64el 6.12 kernel oopses in strncpy_from_user_nofault on a user page not yet faulted in",
		ConsoleArgs:      []string{"-serial", "chardev:con0"},
		VirtioBus:        "pci",
		Console:          "ttyS0",
		HostGOARCH:       "mips64le",
		Compat:           &GoTarget{GOARCH: "mipsle", GOMIPS: "softfloat"},
		TLS:              TLSRead{ThreadArea: 25},
		Slowdown:         2,

		CrossCC:          "mips64el-linux-gnuabi64-gcc",
		CrossCCPackage:   "gcc-mips64el-linux-gnuabi64",
		CrossLibcPackage: "libc6-dev-mips64el-cross",
		QEMUUser:         "qemu-mips64el",
		ELFMachine:       elf.EM_MIPS,
		ELFClass:         elf.ELFCLASS64,
		ELFData:          elf.ELFDATA2LSB,
	},
	// Debian's ppc64el kernels select the syscall wrapper, whose entry
	// points carry no arch prefix: sys_NAME itself takes the pt_regs.
	"ppc64le": {
		Name:          "ppc64le",
		UnameMachine:  "ppc64le",
		Go:            GoTarget{GOARCH: "ppc64le"},
		DebianArch:    "ppc64el",
		KernelFlavour: "powerpc64le",
		BPF:           BPFTarget{"bpfel", "powerpc"},
		SyscallPrefix: "",
		LoaderPrefix:  "__powerpc64_",
		Libbpf:        []string{"1.1", "1.5"},
		QEMU:          "qemu-system-ppc64",
		QEMUFedora:    "qemu-system-ppc",
		QEMUPackage:   "qemu-system-ppc",
		// VOF, QEMU's minimal Open Firmware, instead of SLOF: from QEMU's
		// start to the kernel's clock starting, SLOF takes 12-14 s under
		// TCG, VOF 1.5-2.2 s (ksystest exec to the program's first
		// instruction on ppc64le-6.1: 14-18 s with SLOF, 2.5-3.5 s with
		// VOF; both ppc64le targets of the default matrix pass). The x-
		// marks the property experimental; QEMU has it since 6.0.
		Machine:     "pseries,x-vof=on",
		CPU:         "power9",
		ConsoleArgs: []string{"-device", "spapr-vty,chardev=con0"},
		VirtioBus:   "pci",
		Console:     "hvc0",
		HostGOARCH:  "ppc64le",
		TLS:         TLSRead{Regset: 1, Offset: 13 * 8, Size: 8}, // gpr[13]
		Slowdown:    3,

		CrossCC:          "powerpc64le-linux-gnu-gcc",
		CrossCCPackage:   "gcc-powerpc64le-linux-gnu",
		CrossLibcPackage: "libc6-dev-ppc64el-cross",
		QEMUUser:         "qemu-ppc64le",
		ELFMachine:       elf.EM_PPC64,
		ELFClass:         elf.ELFCLASS64,
		ELFData:          elf.ELFDATA2LSB,
	},
	// A 32-bit x86 kernel: native socketcall and mmap2 users, the ia32
	// register names, and x86 BPF objects built for x86_64's pt_regs.
	"i386": {
		Name:          "i386",
		UnameMachine:  "i686",
		Go:            GoTarget{GOARCH: "386"},
		DebianArch:    "i386",
		KernelFlavour: "686-pae",
		BPF:           BPFTarget{"bpfel", "x86"},
		SyscallPrefix: "__ia32_",
		LoaderPrefix:  "__ia32_",
		Libbpf:        []string{"1.1", "1.5"},
		QEMU:          "qemu-system-i386",
		QEMUFedora:    "qemu-system-x86",
		QEMUPackage:   "qemu-system-x86",
		Machine:       "q35",
		CPU:           "max",
		ConsoleArgs:   []string{"-serial", "chardev:con0"},
		VirtioBus:     "pci",
		Console:       "ttyS0",
		HostGOARCH:    "386",
		BootVmlinux:   true,
		TLS:           TLSRead{ThreadArea: 25, UserDesc: true},
		Slowdown:      1.5,

		CrossCC:          "i686-linux-gnu-gcc",
		CrossCCPackage:   "gcc-i686-linux-gnu",
		CrossLibcPackage: "libc6-dev-i386-cross",
		QEMUUser:         "qemu-i386",
		ELFMachine:       elf.EM_386,
		ELFClass:         elf.ELFCLASS32,
		ELFData:          elf.ELFDATA2LSB,
	},
	"riscv64": {
		Name:          "riscv64",
		UnameMachine:  "riscv64",
		Go:            GoTarget{GOARCH: "riscv64"},
		DebianArch:    "riscv64",
		KernelFlavour: "riscv64",
		BPF:           BPFTarget{"bpfel", "riscv"},
		SyscallPrefix: "__riscv_",
		LoaderPrefix:  "__riscv_",
		Libbpf:        []string{"1.5"},
		// Debian's 6.12 puts 8 bytes of ftrace nops at each entry and
		// has no CONFIG_KPROBES_ON_FTRACE: a kprobe on sys_write+0 is
		// refused with EINVAL, sys_write+8 is not (seen in the guest).
		FtraceEntrySize: 8,
		QEMU:            "qemu-system-riscv64",
		QEMUFedora:      "qemu-system-riscv",
		QEMUPackage:     "qemu-system-misc",
		Machine:         "virt",
		CPU:             "rv64",
		ConsoleArgs:     []string{"-serial", "chardev:con0"},
		VirtioBus:       "pci",
		Console:         "ttyS0",
		HostGOARCH:      "riscv64",
		TLS:             TLSRead{Regset: 1, Offset: 4 * 8, Size: 8}, // user_regs_struct.tp
		Slowdown:        1.5,

		CrossCC:          "riscv64-linux-gnu-gcc",
		CrossCCPackage:   "gcc-riscv64-linux-gnu",
		CrossLibcPackage: "libc6-dev-riscv64-cross",
		QEMUUser:         "qemu-riscv64",
		ELFMachine:       elf.EM_RISCV,
		ELFClass:         elf.ELFCLASS64,
		ELFData:          elf.ELFDATA2LSB,
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
		if a.Go.GOARCH == goarch {
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

// BPFTargets returns the distinct BPF targets of all arches, sorted by
// suffix: one probe object each.
func BPFTargets() []BPFTarget {
	seen := map[BPFTarget]bool{}
	var out []BPFTarget
	for _, a := range All() {
		if !seen[a.BPF] {
			seen[a.BPF] = true
			out = append(out, a.BPF)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Suffix() < out[j].Suffix() })
	return out
}

// MatchELF reports whether f is a program for this arch: its machine,
// word size and byte order.
func (a Arch) MatchELF(f *elf.File) error {
	if f.Machine != a.ELFMachine || f.Class != a.ELFClass || f.Data != a.ELFData {
		return fmt.Errorf("built for %s %s %s, not %s's %s %s %s",
			f.Machine, f.Class, f.Data, a.Name, a.ELFMachine, a.ELFClass, a.ELFData)
	}
	return nil
}

// Native reports whether a guest of this arch runs natively on this host,
// which is the precondition for KVM.
func (a Arch) Native() bool { return a.HostGOARCH == runtime.GOARCH }
