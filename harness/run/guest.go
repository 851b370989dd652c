package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/kernelbtf"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/qemu"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
	"github.com/ksystest/ksystest/harness/vm"
)

// guest is one target prepared on the host, before it boots: its kernel,
// the BTF its probes load against, what the host read of the kernel, and
// the cases planned for it. run, shell and exec all bring a guest up
// through prepare, so a fix lands once.
type guest struct {
	target matrix.Target
	arch   arch.Arch
	kernel *kernel.Kernel
	// btf says where the probes' BTF comes from; btfPath is the file
	// shipped to the guest ("" for the kernel's own).
	btf     *result.BTF
	btfPath string
	facts   sysparams.Kernel
	config  map[string]string
	planned []matrix.Planned
	// notes say what the target cannot run of what was asked.
	notes []string
	// libbpf are the libbpf loaders' helpers for the arch, by loader
	// (planLibbpf).
	libbpf map[string]string
	// entryOffset is how far into a function ksystest attaches kprobes
	// (past an ftrace patch site the kernel refuses to probe).
	entryOffset uint64
	// builds are the users' collections made for this target.
	builds []result.Build
	// btfSubset, when set, is what the guest loads probes against
	// instead of btfPath or the kernel's own (subsetBTF).
	btfSubset []byte
	// base are the saved guests' initramfs by kind (Standby).
	base map[string][]initramfs.File
	// cpus is how many CPUs the guest has (0: one, as cells do).
	cpus int
}

// prepare fetches the target's kernel and BTF and plans its cases.
func prepare(ctx context.Context, o *Options, t matrix.Target, a arch.Arch) (*guest, error) {
	g, err := prepareKernel(ctx, o, t, a)
	if err != nil {
		return g, err
	}
	if g.btf, g.btfPath, err = o.Kernels.BTF(ctx, t, a, g.kernel); err != nil {
		return g, err
	}
	hostBTF, err := o.Kernels.HostBTF(ctx, g.kernel, g.btfPath)
	if err != nil {
		return g, err
	}
	var spec *kernelbtf.Spec
	if g.facts, g.config, spec, err = kernelFacts(g.kernel, hostBTF); err != nil {
		return g, err
	}
	if a.FtraceEntrySize > 0 && g.config["DYNAMIC_FTRACE"] == "y" && g.config["KPROBES_ON_FTRACE"] != "y" {
		g.entryOffset = a.FtraceEntrySize
	}
	if o.Catalogue != nil {
		g.planned, g.notes = o.Catalogue.PlanTarget(t.Name, a, g.facts)
		if err := g.planLibbpf(ctx, o); err != nil {
			return g, err
		}
		if err := g.buildCollections(ctx, o, hostBTF); err != nil {
			return g, err
		}
		if spec != nil && g.btf != nil {
			if err := g.subsetBTF(o, spec); err != nil {
				return g, err
			}
		}
	}
	return g, nil
}

// prepareKernel fetches the target's kernel only: what a guest that
// loads no probes (exec, the boot floor) needs.
func prepareKernel(ctx context.Context, o *Options, t matrix.Target, a arch.Arch) (*guest, error) {
	g := &guest{target: t, arch: a}
	var err error
	if g.kernel, err = o.Kernels.Kernel(ctx, t, a); err != nil {
		return g, fmt.Errorf("kernel: %w", err)
	}
	return g, nil
}

// booted is a guest brought up: its VM, when QEMU started, on which
// accelerator, from which boot image. Close stops it, if a watcher has not
// seen it end, and removes its scratch directory.
type booted struct {
	vm.Instance
	Started          time.Time
	Accel, BootImage string
	// Initramfs is the size of the archive it booted with.
	Initramfs int64
	// Start says whether it was booted or restored (result.Start*);
	// StartNote why it was booted where a restore was wanted.
	Start, StartNote string
	cleanup          func()
}

// Lines is the guest's console as its watch reads it: from where a
// standby's hand-over left it, or from its start.
func (b *booted) Lines() *vm.Lines { return vm.ConsoleLines(b.Instance) }

// Close stops the guest if it still runs and removes its scratch.
func (b *booted) Close() {
	if b.Instance != nil {
		b.Stop(2 * time.Second)
	}
	b.cleanup()
}

// boot is the one way a guest comes up, for run, exec, shell, bench and
// the floor: files become the initramfs in a scratch directory, the
// accelerator is chosen, and the backend starts the guest with the
// command line every guest gets (stdio, when set, takes its console).
func (g *guest) boot(ctx context.Context, o *Options, files []initramfs.File, stdio *qemu.IO) (*booted, error) {
	work, cleanup, err := cache.HostScratch(g.target.Name).Make()
	if err != nil {
		return nil, err
	}
	initrd := filepath.Join(work, "initramfs.cpio")
	if err := writeArchive(initrd, files); err != nil {
		cleanup()
		return nil, err
	}
	b := &booted{cleanup: cleanup, Start: result.StartBooted}
	if st, err := os.Stat(initrd); err == nil {
		b.Initramfs = st.Size()
	}
	accel, why := o.accel(g.arch)
	bootImage, kind := g.bootImage()
	b.Accel, b.BootImage = accel, kind
	o.phase(g.target.Name, "booting ("+accel+")")
	o.logf("[%s] booting %s (%s: %s)", g.target.Name, g.kernel.Release, accel, why)
	b.Started = time.Now()
	b.Instance, err = o.Backend.Start(ctx, vm.Spec{
		Arch: g.arch, Kernel: bootImage, Initrd: initrd, MemoryMB: g.target.MemoryMB, CPUs: g.cpus, Accel: accel, Dir: work,
		ExtraCmdline: o.ExtraCmdline, Paused: o.Paused, Stdio: stdio,
	})
	if err != nil {
		cleanup()
		return nil, err
	}
	return b, nil
}

// subsetBTF makes the BTF the guest loads probes against: only the types
// the CO-RE relocations of ksystest's probes and the users' collections
// name, with what they refer to, instead of the kernel's whole BTF (a few
// MiB that the guest would parse under emulation). Relocations resolve
// the same against it: every type of those names is in it, whole. When an
// object needs the kernel's own type IDs (a type-ID relocation, kfuncs,
// typed ksyms), which a subset renumbers, the guest gets the whole BTF.
func (g *guest) subsetBTF(o *Options, spec *kernelbtf.Spec) error {
	objects := [][]byte{}
	probes, err := fs.ReadFile(o.Builtin, "bpf/obj/probes_"+g.arch.BPF.Suffix()+".o")
	if err != nil {
		return fmt.Errorf("ksystest's probes for %s: %w", g.arch.Name, err)
	}
	objects = append(objects, probes)
	for _, b := range g.builds {
		data, err := os.ReadFile(b.Object)
		if err != nil {
			return err
		}
		objects = append(objects, data)
	}
	var names []string
	for i, obj := range objects {
		r, err := kernelbtf.ObjectRelocations(obj)
		if err != nil {
			if i > 0 {
				return &ConfigError{fmt.Errorf("collection %s: %w", g.builds[i-1].Collection, err)}
			}
			return err
		}
		if r.NeedsIDs {
			who := "ksystest's probes"
			if i > 0 {
				who = "collection " + g.builds[i-1].Collection
			}
			g.btf.Shipped = "whole: " + who + " need the kernel's own type IDs"
			return nil
		}
		names = append(names, r.Names...)
	}
	blob, n, err := spec.Subset(kernelbtf.SortedNames(names))
	if err != nil {
		return fmt.Errorf("BTF subset: %w", err)
	}
	g.btfSubset = blob
	g.btf.Shipped = fmt.Sprintf("subset: %d of %d types, %d bytes", n, spec.NumTypes(), len(blob))
	return nil
}

// bootImage is what QEMU boots: the unpacked vmlinux where the arch can,
// else the packaged image.
func (g *guest) bootImage() (path, kind string) {
	if g.kernel.Vmlinux != "" {
		return g.kernel.Vmlinux, "vmlinux"
	}
	return g.kernel.Vmlinuz, "vmlinuz"
}

// files are what the guest needs: the agent as /init, the console node,
// the catalogue, ksystest's probes for its arch, the kernel's config (for
// __kconfig externs), BTF when its kernel has none, and the 32-bit helper
// when a case needs it.
func (g *guest) files(ctx context.Context, o *Options) ([]initramfs.File, error) {
	a := g.arch
	userFiles, userCols, err := g.collectionFiles(o)
	if err != nil {
		return nil, err
	}
	cat := matrix.ProtoOf(a, g.planned)
	cat.Collections = append([]proto.Collection{{Name: proto.Builtin, Path: proto.ProbesPath, Loader: proto.LoaderKsystest}}, userCols...)
	cat.EntryOffset = g.entryOffset
	catJSON, err := json.Marshal(cat)
	if err != nil {
		return nil, err
	}
	probes, err := fs.ReadFile(o.Builtin, "bpf/obj/probes_"+a.BPF.Suffix()+".o")
	if err != nil {
		return nil, fmt.Errorf("ksystest's probes for %s: %w", a.Name, err)
	}
	layouts, err := readLayouts(o.Builtin)
	if err != nil {
		return nil, err
	}
	release := g.kernel.Release
	return layouts.Files("agent", release, func(e initramfs.LayoutEntry, mode uint32) ([]initramfs.File, error) {
		if files, ok, err := g.baseSource(ctx, o, e, mode); ok {
			return files, err
		}
		file := func(data []byte) []initramfs.File { return []initramfs.File{{Path: e.Path, Mode: mode, Data: data}} }
		switch e.Source {
		case "catalogue":
			return file(catJSON), nil
		case "probes":
			return file(probes), nil
		case "collections":
			return userFiles, nil
		case "workloads":
			return g.workloadFiles(ctx, o)
		case "btf":
			if g.btfSubset != nil {
				return file(g.btfSubset), nil
			}
			if g.btfPath == "" {
				return nil, nil
			}
			btf, err := os.ReadFile(g.btfPath)
			if err != nil {
				return nil, err
			}
			return file(btf), nil
		case "libbpf":
			return g.libbpfFiles()
		case "compat":
			if !needsCompat(g.planned) {
				return nil, nil
			}
			helperPath, err := o.Agents.Path(ctx, guestbuild.Compat, *a.Compat)
			if err != nil {
				return nil, err
			}
			helper, err := os.ReadFile(helperPath)
			if err != nil {
				return nil, err
			}
			return file(helper), nil
		}
		return nil, fmt.Errorf("no source %q for an agent guest", e.Source)
	})
}

// baseSource fills the layout entries that are the same in every run of
// the kernel, which a saved guest holds: the guest's init (the agent, the
// exec init), the kernel's config, busybox. ok is false for other
// sources.
func (g *guest) baseSource(ctx context.Context, o *Options, e initramfs.LayoutEntry, mode uint32) (files []initramfs.File, ok bool, err error) {
	var data []byte
	switch e.Source {
	case "agent", "exec-init":
		cmd := map[string]string{"agent": guestbuild.Agent, "exec-init": guestbuild.Exec}[e.Source]
		path, err := o.Agents.Path(ctx, cmd, g.arch.Go)
		if err != nil {
			return nil, true, err
		}
		if data, err = os.ReadFile(path); err != nil {
			return nil, true, err
		}
	case "kernel-config":
		if g.kernel.Config == "" || g.kernel.Release == "" {
			return nil, true, nil
		}
		if data, err = os.ReadFile(g.kernel.Config); err != nil {
			return nil, true, err
		}
	case "busybox":
		if o.Busybox == nil {
			return nil, true, nil
		}
		path, err := o.Busybox(ctx, g.target.Kernel.Suite, g.arch.DebianArch)
		if err != nil {
			return nil, true, fmt.Errorf("busybox: %w", err)
		}
		if data, err = os.ReadFile(path); err != nil {
			return nil, true, err
		}
	default:
		return nil, false, nil
	}
	return []initramfs.File{{Path: e.Path, Mode: mode, Data: data}}, true, nil
}

// readLayouts reads what each kind of guest holds
// (images/initramfs.yaml, carried in the binary).
func readLayouts(builtin fs.FS) (*initramfs.Layouts, error) {
	return initramfs.ReadLayouts(builtin, "images/initramfs.yaml")
}

func needsCompat(planned []matrix.Planned) bool {
	for _, cd := range planned {
		if cd.Compat {
			return true
		}
	}
	return false
}

// loadersOf are the loaders the planned cases name, in their order.
func loadersOf(planned []matrix.Planned) []string {
	var out []string
	for _, p := range planned {
		if p.Loader != "" && !slices.Contains(out, p.Loader) {
			out = append(out, p.Loader)
		}
	}
	return out
}
