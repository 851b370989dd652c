package matrix

import (
	"testing"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/syscalls"
	"github.com/ksystest/ksystest/harness/sysparams"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func archOf(t *testing.T, name string) arch.Arch {
	a, err := arch.Lookup(name)
	require.NoError(t, err)
	return a
}

// withBTF is a kernel whose BTF has these prototypes.
func withBTF(protos map[string][]string) sysparams.Kernel {
	k := configOf()
	k.Prototype = func(fn string) ([]string, bool) { p, ok := protos[fn]; return p, ok }
	return k
}

func sendtoCase(names ...string) CaseDef {
	values := []ArgValue{"socket:inet", "buf:64", "13", "0x40", "sockaddr:127.0.0.1:9", "16"}
	cd := CaseDef{Name: "sniff-sendto", Probe: "sendto", Syscall: "sendto", Via: proto.ViaRaw, Role: RolePlain}
	for i, v := range values {
		cd.Args = append(cd.Args, ArgDef{Name: names[i], Value: v})
	}
	return cd
}

// The user's label buf is not the kernel's buff: a notice, and all six
// arguments still go where they went.
func TestPlanLabelNamingNoParameter(t *testing.T) {
	mips := archOf(t, "mips64el")
	cd := sendtoCase("fd", "buf", "len", "flags", "addr", "addr_len")

	p := plan(cd, mips, withBTF(map[string][]string{"__se_sys_sendto": {"fd", "buff", "len", "flags", "addr", "addr_len"}}))
	assert.True(t, p.Kernel.Agree, p.Kernel.Note)
	assert.Empty(t, p.Kernel.Note)
	assert.Nil(t, p.Order)
	assert.Equal(t, []string{"fd", "buf", "len", "flags", "addr", "addr_len"}, p.Kernel.Catalogue)
	assert.Equal(t, `label "buf" (argument 2) names no parameter of the kernel's (fd, buff, len, flags, addr, addr_len) `+
		`from BTF __se_sys_sendto: taken as "buff"`, p.Kernel.Notice)

	// Without a prototype in BTF, the source says the same.
	p = plan(cd, mips, configOf())
	require.NotNil(t, p.Kernel.Params)
	assert.True(t, p.Kernel.Agree)
	assert.Contains(t, p.Kernel.Params.Source, "kernel source "+syscalls.KernelVersion+" net/socket.c:")
	assert.Contains(t, p.Kernel.Notice, `label "buf" (argument 2) names no parameter`)

	// A label the kernel knows raises nothing.
	p = plan(sendtoCase("fd", "buff", "len", "flags", "addr", "addr_len"), mips, configOf())
	assert.True(t, p.Kernel.Agree)
	assert.Empty(t, p.Kernel.Notice)
}

// The name check runs where BTF kept no prototype: from the source, and
// the source's order is held against the catalogue's like BTF's.
func TestPlanFromSource(t *testing.T) {
	x86 := archOf(t, "x86_64")
	cd := CaseDef{Name: "write", Probe: "ksys_write", Syscall: "write", Via: proto.ViaRaw, Role: RolePlain,
		Args: []ArgDef{{Name: "fd", Value: "1"}, {Name: "buf", Value: "buf:8"}, {Name: "count", Value: "8"}}}
	p := plan(cd, x86, sysparams.Kernel{})
	require.NotNil(t, p.Kernel.Params)
	assert.Equal(t, []string{"fd", "buf", "count"}, p.Kernel.Params.Names)
	assert.Contains(t, p.Kernel.Params.Source, "kernel source "+syscalls.KernelVersion+" fs/read_write.c:")
	assert.True(t, p.Kernel.Agree)

	// BTF first.
	p = plan(cd, x86, withBTF(map[string][]string{"__do_sys_write": {"fd", "buf", "count"}}))
	assert.Equal(t, "BTF __do_sys_write", p.Kernel.Params.Source)

	// A compat call is checked against the compat entry's definition.
	i386 := CaseDef{Name: "compat-clone", Probe: "compat_clone", Syscall: "clone", Via: proto.ViaRaw, Role: RolePlain, Compat: true,
		Args: []ArgDef{{Name: "flags", Value: "0x811"}, {Name: "newsp", Value: "2"}, {Name: "parent_tid", Value: "3"}, {Name: "child_tid", Value: "4"}, {Name: "tls", Value: "5"}}}
	p = plan(i386, x86, configOf())
	require.NotNil(t, p.Kernel.Params)
	assert.Equal(t, []string{"clone_flags", "newsp", "parent_tidptr", "tls_val", "child_tidptr"}, p.Kernel.Params.Names)
	assert.Contains(t, p.Kernel.Params.Source, "arch/x86/kernel/sys_ia32.c:")
	assert.Equal(t, []int{1, 2, 3, 5, 4}, p.Order)

	// Where the source defines no parameters, the note says why.
	p = plan(CaseDef{Name: "ni", Probe: "x", Syscall: "map_shadow_stack", Via: proto.ViaRaw, Role: RolePlain,
		Args: []ArgDef{{Name: "addr", Value: "1"}, {Name: "size", Value: "2"}, {Name: "flags", Value: "3"}}}, archOf(t, "arm64"), sysparams.Kernel{})
	assert.Nil(t, p.Kernel.Params)
	assert.Equal(t, "no BTF read; kernel source "+syscalls.KernelVersion+": not implemented on arm64: "+
		"kernel/sys_ni.c makes it sys_ni_syscall (COND_SYSCALL) where no code defines it", p.Kernel.Note)
}

// Arguments without a name take the kernel's, in the order the catalogue
// writes them (x86_64's), so each still goes in the register its kernel
// has it in.
func TestPlanUnnamedArguments(t *testing.T) {
	cd := CaseDef{Name: "clone", Probe: "naive_clone", Syscall: "clone", Via: proto.ViaRaw, Role: RolePlain,
		Args: []ArgDef{{Value: "0x811"}, {Value: "0x2222"}, {Value: "0x3333"}, {Value: "0x4444"}, {Value: "0x5555"}}}
	p := plan(cd, archOf(t, "s390x"), configOf("CLONE_BACKWARDS2"))
	assert.Equal(t, []string{"clone_flags", "newsp", "parent_tidptr", "child_tidptr", "tls"}, argNames(p.Args))
	assert.Equal(t, []int{2, 1, 3, 4, 5}, p.Order, "newsp first on s390x")
	assert.True(t, p.Kernel.Agree)
	assert.Empty(t, p.Kernel.Notice, "ksystest's names are no user's labels")
	assert.Empty(t, cd.Args[0].Name, "the case itself is not changed")

	// Named and unnamed mix; a deref argument is named after what it
	// reads back.
	mixed := sendtoCase("fd", "", "size", "", "", "")
	mixed.Args = append(mixed.Args, ArgDef{Value: "deref:5"})
	p = plan(mixed, archOf(t, "arm64"), configOf())
	assert.Equal(t, []string{"fd", "buff", "size", "flags", "addr", "addr_len", "*addr"}, argNames(p.Args))
	assert.True(t, p.Kernel.Agree)
	assert.Contains(t, p.Kernel.Notice, `label "size" (argument 3) names no parameter`)

	// A syscall x86_64 lacks takes the target ABI's names.
	sc := CaseDef{Name: "socketcall", Probe: "x", Syscall: "socketcall", Via: proto.ViaRaw, Role: RolePlain,
		Args: []ArgDef{{Value: "1"}, {Value: "buf:24"}}}
	p = plan(sc, archOf(t, "i386"), configOf())
	assert.Equal(t, []string{"call", "args"}, argNames(p.Args))
}

func argNames(args []ArgDef) []string {
	var out []string
	for _, a := range args {
		out = append(out, a.Name)
	}
	return out
}

// A library call that passes the arguments its own way (Go's
// syscall.Mmap packs them for s390x's old_mmap) has no registers for the
// catalogue to name: no check, and no catalogue error.
func TestPlanLibraryCallPacks(t *testing.T) {
	cd := CaseDef{Name: "mmap-go", Probe: "naive_mmap", Syscall: "mmap", Via: proto.ViaGoMmap, Role: RolePlain,
		Args: []ArgDef{{Name: "addr", Value: "0"}, {Name: "len", Value: "0x3000"}, {Name: "prot", Value: "1"},
			{Name: "flags", Value: "0x22"}, {Name: "fd", Value: "-1"}, {Name: "off", Value: "0"}}}
	p := plan(cd, archOf(t, "s390x"), configOf())
	assert.True(t, p.Kernel.Agree)
	assert.Nil(t, p.Kernel.Params)
	assert.Contains(t, p.Kernel.Note, "go:syscall.Mmap passes the arguments its own way here (the kernel's kernel source "+syscalls.KernelVersion+" mm/mmap.c:")
	assert.Contains(t, p.Kernel.Note, "takes 1: arg)")

	// A raw call the catalogue makes with the wrong count is its error.
	cd.Via = proto.ViaRaw
	p = plan(cd, archOf(t, "s390x"), configOf())
	assert.False(t, p.Kernel.Agree)
	assert.Contains(t, p.Kernel.Note, "the catalogue passes 6 arguments")
}
