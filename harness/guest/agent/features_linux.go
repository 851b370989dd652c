package agent

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	"github.com/ksystest/ksystest/harness/proto"
)

// Features are what the running kernel offers that ksystest's probes can
// do with or without, asked of the kernel itself (never inferred from its
// version).
type Features struct {
	// RingBuf: BPF ring buffers (Linux 5.8). Without them, ksystest's
	// loader makes each collection's ksystest_events a perf event array.
	RingBuf bool
}

// UnsupportedError is a kernel that lacks what ksystest cannot do without:
// its target cannot be tested, and no case runs.
type UnsupportedError struct {
	Kernel string
	Lacks  []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s%s lacks %s", proto.UnsupportedKernel, e.Kernel, strings.Join(e.Lacks, "; and "))
}

// A requirement is one thing ksystest's probes need of the kernel: have
// answers nil when the kernel has it, ebpf.ErrNotSupported when it has
// not, and any other error when it cannot tell.
type requirement struct {
	what string
	have func() error
}

// The kernel paths a kprobe is made through: the kprobe PMU (Linux 4.17),
// else tracefs, which the agent mounts at /sys/kernel/tracing.
const (
	kprobePMU    = "/sys/bus/event_source/devices/kprobe/type"
	kprobeEvents = "/sys/kernel/tracing/kprobe_events"
)

// requirements are what ksystest's probes and the agent cannot do
// without, in the order a kernel gained them.
var requirements = []requirement{
	{"BPF kprobe programs (CONFIG_BPF_SYSCALL, CONFIG_BPF_EVENTS)", func() error {
		return features.HaveProgramType(ebpf.Kprobe)
	}},
	{"kprobes: neither the kprobe PMU nor tracefs's kprobe_events (CONFIG_KPROBE_EVENTS)", func() error {
		return anyPath(kprobePMU, kprobeEvents)
	}},
	{"both BPF ring buffers and perf event arrays with bpf_perf_event_output, for the probes' reports", func() error {
		if err := features.HaveMapType(ebpf.RingBuf); !errors.Is(err, ebpf.ErrNotSupported) {
			return err
		}
		if err := features.HaveMapType(ebpf.PerfEventArray); err != nil {
			return err
		}
		return features.HaveProgramHelper(ebpf.Kprobe, asm.FnPerfEventOutput)
	}},
	{"global data in BPF programs (BPF_PSEUDO_MAP_VALUE, Linux 5.2), which BPF_KSYSCALL's LINUX_HAS_SYSCALL_WRAPPER is read from", haveGlobalData},
}

// ProbeKernel asks the kernel for everything in requirements, and for
// Features. A kernel that lacks any requirement is an *UnsupportedError
// naming all it lacks; a probe that cannot tell is an error of its own.
func ProbeKernel() (Features, error) {
	var (
		f     Features
		lacks []string
		errs  []error
	)
	for _, r := range requirements {
		switch err := r.have(); {
		case errors.Is(err, ebpf.ErrNotSupported):
			lacks = append(lacks, r.what)
		case err != nil:
			errs = append(errs, fmt.Errorf("probe the kernel for %s: %w", r.what, err))
		}
	}
	if len(lacks) > 0 {
		return f, &UnsupportedError{Kernel: hello().Kernel, Lacks: lacks}
	}
	if err := errors.Join(errs...); err != nil {
		return f, err
	}
	switch err := features.HaveMapType(ebpf.RingBuf); {
	case err == nil:
		f.RingBuf = true
	case !errors.Is(err, ebpf.ErrNotSupported):
		return f, fmt.Errorf("probe the kernel for BPF ring buffers: %w", err)
	}
	return f, nil
}

// anyPath answers nil when one of paths exists, ebpf.ErrNotSupported
// when none does.
func anyPath(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return ebpf.ErrNotSupported
}

// haveGlobalData loads a program that reads a map's value through a
// BPF_PSEUDO_MAP_VALUE load from a read-only array (BPF_F_RDONLY_PROG),
// as a .kconfig or .rodata section is read. A kernel without global data
// refuses either with EINVAL.
func haveGlobalData() error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: unix.BPF_F_RDONLY_PROG})
	if errors.Is(err, unix.EINVAL) {
		return ebpf.ErrNotSupported
	}
	if err != nil {
		return err
	}
	defer m.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SocketFilter,
		Instructions: asm.Instructions{
			asm.LoadMapValue(asm.R1, m.FD(), 0),
			asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
		License: "GPL",
	})
	if errors.Is(err, unix.EINVAL) {
		return ebpf.ErrNotSupported
	}
	if err != nil {
		return err
	}
	return prog.Close()
}
