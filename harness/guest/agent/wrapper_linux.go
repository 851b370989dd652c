package agent

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
	"golang.org/x/sys/unix"
)

const wrapperExtern = "LINUX_HAS_SYSCALL_WRAPPER"

// kernelSymbols is the running kernel's /proc/kallsyms, as Prepare read
// it, or read now.
func kernelSymbols() (kallsyms, error) {
	if prepared != nil {
		return prepared.symbols, prepared.symbolsErr
	}
	return readKernelSymbols()
}

func readKernelSymbols() (kallsyms, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return kallsyms{}, err
	}
	defer f.Close()
	return readKallsyms(f)
}

// loadWithWrapperFallback loads spec. cilium/ebpf resolves
// LINUX_HAS_SYSCALL_WRAPPER itself by creating a kprobe on
// PREFIX_sys_bpf (arch.LoaderPrefix); where that kprobe fails in a way it
// does not expect (EINVAL instead of ENOENT: 32-bit arm, mips64 and
// ppc64le 6.12, and riscv64, which refuses every kprobe at a function
// entry), it refuses to load. Then ksystest answers as cilium/ebpf means
// to, from /proc/kallsyms (no such symbol: no wrapper), points the
// program's .kconfig loads at a map holding that, reports that it did, and
// loading goes on.
func loadWithWrapperFallback(spec *ebpf.CollectionSpec, opts ebpf.CollectionOptions, w *proto.Wrapper) (*ebpf.Collection, error) {
	w.ResolvedBy = "cilium/ebpf"
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err == nil || !strings.Contains(err.Error(), "derive a value for "+wrapperExtern) {
		return coll, err
	}
	a, aerr := arch.ByGOARCH(runtime.GOARCH)
	if aerr != nil {
		return nil, err
	}
	value := byte(0)
	if slices.Contains(w.Symbols, a.LoaderPrefix+"sys_bpf") {
		value = 1
	}
	kconfig, perr := presetKconfig(spec, value)
	if perr != nil {
		return nil, fmt.Errorf("%w (and resolving it from kallsyms: %v)", err, perr)
	}
	defer kconfig.Close() // the programs hold their own reference
	w.ResolvedBy = fmt.Sprintf("ksystest from /proc/kallsyms, because cilium/ebpf failed: %s", rootCause(err))
	return ebpf.NewCollectionWithOptions(spec, opts)
}

func rootCause(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "detect support for syscall wrapper: "); i >= 0 {
		return msg[i:]
	}
	return msg
}

// kconfigDatasec is the .kconfig section of the probes' BTF and the offset
// of the wrapper extern in it.
func kconfigDatasec(spec *ebpf.CollectionSpec) (*btf.Datasec, int, error) {
	var ds *btf.Datasec
	if err := spec.Types.TypeByName(".kconfig", &ds); err != nil {
		return nil, 0, fmt.Errorf("the probes use no .kconfig: %w", err)
	}
	for _, v := range ds.Vars {
		if v.Type.TypeName() == wrapperExtern {
			return ds, int(v.Offset), nil
		}
	}
	return nil, 0, fmt.Errorf("no %s in .kconfig", wrapperExtern)
}

// presetKconfig makes a map holding the .kconfig section with value for
// the wrapper extern, and rewrites every program's loads of an extern
// (the only unresolved map-value loads: globals carry their section's
// name) to read from it. cilium/ebpf keeps which extern a load reads out
// of reach, so this works only where the wrapper is the one extern.
func presetKconfig(spec *ebpf.CollectionSpec, value byte) (*ebpf.Map, error) {
	ds, offset, err := kconfigDatasec(spec)
	if err != nil {
		return nil, err
	}
	for _, v := range ds.Vars {
		if v.Type.TypeName() != wrapperExtern {
			return nil, fmt.Errorf(".kconfig also holds %s, which ksystest cannot resolve beside %s", v.Type.TypeName(), wrapperExtern)
		}
	}
	data := make([]byte, ds.Size)
	data[offset] = value
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "ksys_kconfig", Type: ebpf.Array, KeySize: 4, ValueSize: ds.Size, MaxEntries: 1,
		Flags: unix.BPF_F_RDONLY_PROG, Contents: []ebpf.MapKV{{Key: uint32(0), Value: data}},
	})
	if err != nil {
		return nil, err
	}
	for _, ps := range spec.Programs {
		for i, ins := range ps.Instructions {
			if !ins.OpCode.IsDWordLoad() || ins.Src != asm.PseudoMapValue || ins.Reference() != "" || ins.Map() != nil {
				continue
			}
			// A fresh instruction: the old one's metadata would send
			// cilium/ebpf back to resolving the extern itself.
			load := asm.Instruction{OpCode: ins.OpCode, Dst: ins.Dst, Src: asm.PseudoMapValue, Constant: ins.Constant}.WithSource(ins.Source())
			if err := load.AssociateMap(m); err != nil {
				m.Close()
				return nil, err
			}
			ps.Instructions[i] = load
		}
	}
	return m, nil
}

// errNoKconfig means a program reads no LINUX_HAS_SYSCALL_WRAPPER.
var errNoKconfig = errors.New("the program reads no " + wrapperExtern)

// readWrapperValue reads LINUX_HAS_SYSCALL_WRAPPER back from a loaded
// program's .kconfig map: the value the program really sees. cilium/ebpf
// keeps that map out of Collection.Maps; the program references it by ID.
func readWrapperValue(spec *ebpf.CollectionSpec, prog *ebpf.Program) (int, error) {
	_, offset, err := kconfigDatasec(spec)
	if err != nil {
		return 0, errNoKconfig
	}
	info, err := prog.Info()
	if err != nil {
		return 0, fmt.Errorf("program info: %w", err)
	}
	ids, _ := info.MapIDs()
	for _, id := range ids {
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		mi, err := m.Info()
		if err != nil || !strings.Contains(mi.Name, "kconfig") {
			m.Close()
			continue
		}
		val := make([]byte, mi.ValueSize)
		err = m.Lookup(uint32(0), &val)
		m.Close()
		if err != nil {
			return 0, fmt.Errorf("read .kconfig: %w", err)
		}
		return int(val[offset]), nil
	}
	return 0, errNoKconfig
}
