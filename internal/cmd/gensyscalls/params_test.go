package main

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvalCond(t *testing.T) {
	t.Parallel()
	facts := map[string]bool{"CONFIG_64BIT": true, "CONFIG_ARCH_SPLIT_ARG64": false, "CONFIG_X86_32": false}
	for _, tc := range []struct {
		cond         string
		value, known bool
	}{
		{"defined(CONFIG_64BIT)", true, true},
		{"!defined(CONFIG_64BIT)", false, true},
		{"CONFIG_X86_32", false, true},
		{"defined(CONFIG_COMPAT)", false, false},
		// Either way CONFIG_COMPAT goes, this is false: fanotify_mark's
		// SYSCALL32 variant on a 64-bit kernel.
		{"(defined(CONFIG_ARCH_SPLIT_ARG64) || defined(CONFIG_COMPAT)) && !defined(CONFIG_COMPAT)", false, true},
		{"defined(CONFIG_COMPAT) || !defined(CONFIG_COMPAT)", true, true},
		{"IS_ENABLED(CONFIG_64BIT) && 1", true, true},
		{"0", false, true},
		{"BITS_PER_LONG == 32", false, false},
		{"defined(CONFIG_64BIT) &&", false, false},
		{"!(defined(CONFIG_X86_32)) && defined(CONFIG_64BIT)", true, true},
	} {
		v, known := evalCond(tc.cond, facts)
		assert.Equal(t, tc.known, known, tc.cond)
		if tc.known {
			assert.Equal(t, tc.value, v, tc.cond)
		}
	}
}

func TestKbuildConds(t *testing.T) {
	t.Parallel()
	conds := kbuildConds(`# SPDX-License-Identifier: GPL-2.0
obj-y				:= entry.o syscall_$(BITS).o
obj-$(CONFIG_X86_32)	+= sys_ia32.o
obj-$(CONFIG_IA32_EMULATION)	+= sys_ia32.o signal_32.o \
				   tls.o
pci64-$(CONFIG_PPC64)		+= pci_dn.o
obj-$(CONFIG_PCI)		+= pci_$(BITS).o $(pci64-y)
ifeq ($(CONFIG_POSIX_TIMERS),y)
 obj-y += posix-timers.o
else
 obj-y += posix-stubs.o
endif
ifdef CONFIG_64BIT
obj-$(CONFIG_MSEAL) += mseal.o
endif
foo-y := foo_main.o
foo-$(CONFIG_FOO_EXTRA) += foo_extra.o
obj-$(CONFIG_FOO) += foo.o
obj-y += subdir/
`)
	assert.Equal(t, map[string][]string{
		"entry.o":        {""},
		"syscall_64.o":   {"defined(CONFIG_64BIT)"},
		"syscall_32.o":   {"!defined(CONFIG_64BIT)"},
		"sys_ia32.o":     {"defined(CONFIG_X86_32)", "defined(CONFIG_IA32_EMULATION)"},
		"signal_32.o":    {"defined(CONFIG_IA32_EMULATION)"},
		"tls.o":          {"defined(CONFIG_IA32_EMULATION)"},
		"pci_64.o":       {"defined(CONFIG_PCI) && defined(CONFIG_64BIT)"},
		"pci_32.o":       {"defined(CONFIG_PCI) && !defined(CONFIG_64BIT)"},
		"pci_dn.o":       {"defined(CONFIG_PCI) && defined(CONFIG_PPC64)"},
		"posix-timers.o": {"defined(CONFIG_POSIX_TIMERS)"},
		"posix-stubs.o":  {"!(defined(CONFIG_POSIX_TIMERS))"},
		"mseal.o":        {"defined(CONFIG_64BIT) && defined(CONFIG_MSEAL)"},
		"foo_main.o":     {"defined(CONFIG_FOO)"},
		"foo_extra.o":    {"defined(CONFIG_FOO) && defined(CONFIG_FOO_EXTRA)"},
	}, conds)
}

func TestKconfigFacts(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"arch/x86/Kconfig": file(`config X86_32
	def_bool y
	depends on !64BIT
	select CLONE_BACKWARDS
	select ARCH_SPLIT_ARG64

config X86_64
	def_bool y

config COMPAT_32
	def_bool y
	select OLD_SIGSUSPEND3

config X86
	select OLD_SIGACTION if X86_32
	select TRAD_SIGNALS if SOMETHING_UNSAID
`)}
	facts, err := kconfigFacts(fsys, x86_64)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{
		// The base, as stated.
		"CONFIG_X86": true, "CONFIG_X86_64": true, "CONFIG_X86_32": false, "CONFIG_64BIT": true, "CONFIG_COMPAT": true,
		"CONFIG_IA32_EMULATION": true, "CONFIG_COMPAT_32": true,
		// Read: selected in a block the base turns off, on, or nowhere.
		"CONFIG_CLONE_BACKWARDS": false, "CONFIG_ARCH_SPLIT_ARG64": false, "CONFIG_OLD_SIGSUSPEND3": true,
		"CONFIG_OLD_SIGACTION": false, "CONFIG_CLONE_BACKWARDS2": false, "CONFIG_CLONE_BACKWARDS3": false, "CONFIG_OLD_SIGSUSPEND": false,
		// CONFIG_TRAD_SIGNALS: selected under a condition nobody states.
	}, facts)
	facts, err = kconfigFacts(fsys, x86_32)
	require.NoError(t, err)
	assert.True(t, facts["CONFIG_CLONE_BACKWARDS"])
	assert.True(t, facts["CONFIG_OLD_SIGACTION"])
}

// A tree like 6.12's, cut down to what each way of resolving an entry
// point meets.
func paramsTree() fstest.MapFS {
	return fstest.MapFS{
		"arch/x86/Kconfig":  file("config X86_32\n\tselect CLONE_BACKWARDS\n"),
		"arch/mips/Kconfig": file("config MIPS\n\tselect CLONE_BACKWARDS\n"),
		"kernel/fork.c": file(`#ifdef CONFIG_CLONE_BACKWARDS
SYSCALL_DEFINE5(clone, unsigned long, clone_flags, unsigned long, newsp,
		 int __user *, parent_tidptr, unsigned long, tls, int __user *, child_tidptr)
#else
SYSCALL_DEFINE5(clone, unsigned long, clone_flags, unsigned long, newsp,
		 int __user *, parent_tidptr, int __user *, child_tidptr, unsigned long, tls)
#endif
{
}
`),
		"kernel/sys_ni.c": file("asmlinkage long sys_ni_syscall(void)\n{\n}\nCOND_SYSCALL(mseal);\n"),
		"mm/Makefile":     file("ifdef CONFIG_64BIT\nobj-y += mseal.o\nendif\n"),
		"mm/mseal.c":      file("SYSCALL_DEFINE3(mseal, unsigned long, start, size_t, len, unsigned long, flags)\n{\n}\n"),
		"net/socket.c": file(`SYSCALL_DEFINE6(sendto, int, fd, void __user *, buff, size_t, len,
		unsigned int, flags, struct sockaddr __user *, addr,
		int, addr_len)
{
}
`),
		"fs/stat.c":  file("SYSCALL_DEFINE2(newstat, const char __user *, filename, struct stat __user *, statbuf)\n{\n}\n"),
		"fs/stat2.c": file("SYSCALL_DEFINE2(newstat, const char __user *, name, struct stat __user *, statbuf)\n{\n}\n"),
		"arch/mips/kernel/syscall.c": file(`save_static_function(sys_clone);
asmlinkage void sys_sigreturn(struct pt_regs *regs)
{
}
`),
		"arch/mips/kernel/scall32-o32.S": file("LEAF(sys_syscall)\n\tsubu t0, a0, __NR_O32_Linux\n\tbnez t0, 1f\n\tjr ra\n\tEND(sys_syscall)\n"),
		"arch/x86/um/tls_32.c":           file("SYSCALL_DEFINE1(set_thread_area, struct user_desc __user *, user_desc)\n{\n}\n"),
		"arch/x86/kernel/tls.c":          file("SYSCALL_DEFINE1(set_thread_area, struct user_desc __user *, u_info)\n{\n}\n"),
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	fsys := paramsTree()
	idx, err := indexSource(fsys, []*kernelBuild{x86_64, x86_32, mips64})
	require.NoError(t, err)
	resolve := func(entry string, b *kernelBuild) resolved {
		facts, err := kconfigFacts(fsys, b)
		require.NoError(t, err)
		return idx.resolve(entry, b, facts)
	}

	r := resolve("sys_clone", x86_64)
	require.True(t, r.ok, r.why)
	assert.Equal(t, "child_tidptr", r.def.params[3].name, "x86_64 has no CONFIG_CLONE_BACKWARDS")
	r = resolve("sys_clone", x86_32)
	require.True(t, r.ok, r.why)
	assert.Equal(t, "tls", r.def.params[3].name)
	assert.Equal(t, "kernel/fork.c:2", r.where())

	r = resolve("__sys_clone", mips64)
	require.True(t, r.ok, r.why)
	assert.Equal(t, "arch/mips/kernel/syscall.c:1 save_static_function → sys_clone, kernel/fork.c:2", r.where())

	r = resolve("sys_mseal", x86_64)
	assert.True(t, r.ok, "built where CONFIG_64BIT")
	r = resolve("sys_mseal", x86_32)
	assert.False(t, r.ok)
	assert.Equal(t, "not implemented on x86 32-bit: kernel/sys_ni.c makes it sys_ni_syscall (COND_SYSCALL) where no code defines it", r.why)

	// user-mode Linux's tls_32.c is not x86's.
	r = resolve("sys_set_thread_area", x86_32)
	require.True(t, r.ok, r.why)
	assert.Equal(t, "u_info", r.def.params[0].name)

	for entry, why := range map[string]string{
		"sys_ni_syscall": "not implemented: the kernel runs sys_ni_syscall (ENOSYS), which reads no arguments",
		"sys_newstat":    "defined 2 ways, chosen by the kernel's config: fs/stat.c:1 (filename, statbuf) if always; fs/stat2.c:1 (name, statbuf) if always",
		"sys_sigreturn":  "arch/mips/kernel/syscall.c:2 takes the saved registers (struct pt_regs * regs), not the call's arguments",
		"sys_syscall":    "defined in assembly (arch/mips/kernel/scall32-o32.S:1), with no C parameters",
		"sys_nothing":    "no definition found (no SYSCALL_DEFINE, COMPAT_SYSCALL_DEFINE, asmlinkage function or assembly label of that name)",
	} {
		r := resolve(entry, mips64)
		assert.False(t, r.ok, entry)
		assert.Equal(t, why, r.why, entry)
	}
}

// An ABI that 64-bit kernels run as their compat ABI has the compat
// kernel's readings where they differ.
func TestBuildParams(t *testing.T) {
	t.Parallel()
	fsys := paramsTree()
	idx, err := indexSource(fsys, []*kernelBuild{x86_64, x86_32})
	require.NoError(t, err)
	i386 := abi{name: "i386", kernel: x86_32, compatKernel: x86_64}
	pt, err := buildParams(fsys, idx, i386, table{syscalls: []syscall{
		{nr: 120, name: "clone", entry: "sys_clone"},
		{nr: 369, name: "sendto", entry: "sys_sendto"},
		{nr: 462, name: "mseal", entry: "sys_mseal"},
		{nr: 999, name: "sendto_again", entry: "sys_sendto"},
	}})
	require.NoError(t, err)
	assert.Equal(t, "i386", pt.abi)
	var native []string
	for _, e := range pt.native {
		native = append(native, e.entry)
	}
	assert.Equal(t, []string{"sys_clone", "sys_mseal", "sys_sendto"}, native)
	assert.Equal(t, []string{"sendto", "sendto_again"}, pt.native[2].syscalls)
	assert.Equal(t, "net/socket.c:1", pt.native[2].where)
	assert.Nil(t, pt.native[1].params, "32-bit kernels have no mseal")
	require.Len(t, pt.compat, 2, "the 64-bit kernel reads clone and mseal otherwise")
	assert.Equal(t, "sys_clone", pt.compat[0].entry)
	assert.Equal(t, "child_tidptr", pt.compat[0].params[3].name)
	assert.Equal(t, "sys_mseal", pt.compat[1].entry)
	assert.Len(t, pt.compat[1].params, 3)

	_, err = buildParams(fsys, idx, abi{name: "x", kernel: x86_64}, table{syscalls: []syscall{{name: "clone", entry: "sys_clone", compat: "compat_sys_clone"}}})
	assert.ErrorContains(t, err, "the ABI no compat kernel")
}
