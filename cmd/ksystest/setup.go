package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/qemu"
	"github.com/ksystest/ksystest/harness/run"
	"github.com/ksystest/ksystest/harness/vm"
)

// guestFlags are the flags of every command that boots guests (run,
// shell, bench, exec), and setup is the one way they turn them, with a
// matrix, into what booting needs.
type guestFlags struct {
	matrixFile string
	agentDir   string
	accel      string
	appendArgs string
	libbpfArgs repeated
	fresh      bool
	archive    archiveFlags
}

// repeated collects a flag given more than once.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func (g *guestFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.matrixFile, "matrix", "", matrixUsage)
	fs.StringVar(&g.agentDir, "agent-dir", "", "directory with prebuilt guest programs (ksystest-agent.GOARCH...; default: built from the source this ksystest carries, and cached)")
	fs.StringVar(&g.accel, "accel", "auto", "auto (KVM when the guest is the host's arch and KVM works), kvm or tcg")
	fs.StringVar(&g.appendArgs, "kernel-append", "", "extra kernel command line for every guest (e.g. 'loglevel=8')")
	fs.Var(&g.libbpfArgs, "libbpf-arg", "an argument for the libbpf loaders' helper, repeatable: '--libbpf-arg=--deny-kprobe --libbpf-arg=__x64_sys_bpf' "+
		"makes libbpf believe the kernel lacks that symbol, and so mis-resolve LINUX_HAS_SYSCALL_WRAPPER: how your probes fare when a loader gets it wrong")
	g.archive.register(fs)
}

// registerFresh adds --fresh, for the commands that restore saved guests.
func (g *guestFlags) registerFresh(fs *flag.FlagSet) {
	fs.BoolVar(&g.fresh, "fresh", false, "boot every guest instead of restoring the kernel's saved one "+
		"(ksystest saves a booted guest per kernel in its cache on first use, and restores it in a fraction of a boot)")
}

// accelFor checks --accel for the targets to boot: "" (auto), "tcg" or
// "kvm"; kvm where KVM cannot run a target's guests is said now, not as
// a guest that never boots at its deadline.
func (g *guestFlags) accelFor(targets []matrix.Target) (string, error) {
	switch g.accel {
	case "auto":
		return "", nil
	case qemu.AccelTCG:
		return g.accel, nil
	case qemu.AccelKVM:
		for _, t := range targets {
			a, err := arch.Lookup(t.Arch)
			if err == nil {
				err = qemu.CheckKVM(a, kvmProbe)
			}
			if err != nil {
				return "", fmt.Errorf("--accel kvm: %s: %v", t.Name, err)
			}
		}
		return g.accel, nil
	}
	return "", fmt.Errorf("--accel %q: want auto, kvm or tcg", g.accel)
}

// booting is what a booting command has once set up: the run options
// every guest needs, and the archive they fetch from.
type booting struct {
	run.Options
	archive *archiveSource
}

// setup makes what booting the targets of m needs, in the one order every
// booting command follows: the accelerator, the kernel lock, the guest
// programs and the archive (made on first use), the kernels. A problem of
// the flags or the config is an *exitError with exitUsage.
func (g *guestFlags) setup(m *matrix.Matrix, cat *matrix.Catalogue, targets []matrix.Target, progress ui, verbose bool) (*booting, error) {
	accel, err := g.accelFor(targets)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	lock, err := loadLock(m)
	if err != nil {
		return nil, err
	}
	archive, agents := guestSources(&g.archive, g.agentDir, progress)
	kernels, err := debianKernels(archive, lock)
	if err != nil {
		return nil, err
	}
	backend := vm.QEMU{}
	if verbose {
		backend.OnStart = func(argv []string) { progress.logf("qemu: %s", strings.Join(argv, " ")) }
	}
	return &booting{archive: archive, Options: run.Options{
		Matrix: m, Catalogue: cat, Targets: targets,
		Kernels: kernels, Backend: backend, Agents: agents, Builtin: ksystest.Data, Logf: progress.logf,
		Accel: accel, ExtraCmdline: strings.Fields(g.appendArgs), Cache: archive.Cache, Fresh: g.fresh, Busybox: archive.Busybox,
		Userland:   archive.Userland,
		LoaderArgs: map[string][]string{proto.LoaderLibbpf11: g.libbpfArgs, proto.LoaderLibbpf15: g.libbpfArgs},
	}}, nil
}

// withBPF adds what cells that check probes need besides booting: the
// workload programs, users' BPF sources' toolchain and the libbpf
// loaders' helpers, built from Debian's packages on first use.
func (b *booting) withBPF() *booting {
	b.Workloads = workloadPrograms(b.archive.Cache, b.Logf)
	b.BPF = bpfToolchain(b.archive)
	b.Libbpf = &guestbuild.LibbpfBuilder{Archive: b.archive.Fetcher, Cache: b.archive.Cache, Source: ksystest.GuestSource(), Logf: b.Logf}
	return b
}
