package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Definitions as 6.12 writes them, cut down to what the parser meets.

// kernel/fork.c: one syscall, four ways, by config; the conditions of
// each are kept.
const forkC = `/*
 * SYSCALL_DEFINE0(not_this) in a comment
 */
#ifdef __ARCH_WANT_SYS_CLONE
#ifdef CONFIG_CLONE_BACKWARDS
SYSCALL_DEFINE5(clone, unsigned long, clone_flags, unsigned long, newsp,
		 int __user *, parent_tidptr,
		 unsigned long, tls,
		 int __user *, child_tidptr)
#elif defined(CONFIG_CLONE_BACKWARDS2)
SYSCALL_DEFINE5(clone, unsigned long, newsp, unsigned long, clone_flags,
		 int __user *, parent_tidptr,
		 int __user *, child_tidptr,
		 unsigned long, tls)
#else
SYSCALL_DEFINE5(clone, unsigned long, clone_flags, unsigned long, newsp,
		 int __user *, parent_tidptr,
		 int __user *, child_tidptr, // the default
		 unsigned long, tls)
#endif
{
	return kernel_clone(&args);
}
#endif

SYSCALL_DEFINE0(fork)
{
	return -EINVAL;
}
`

func TestParseCConditions(t *testing.T) {
	t.Parallel()
	defs := parseC("kernel/fork.c", forkC, littleEndian)
	require.Len(t, defs, 4)
	for _, d := range defs[:3] {
		assert.Equal(t, "sys_clone", d.entry)
		assert.Equal(t, "SYSCALL_DEFINE5", d.macro)
		assert.Empty(t, d.err)
	}
	assert.Equal(t, definition{
		entry: "sys_clone", file: "kernel/fork.c", line: 6, macro: "SYSCALL_DEFINE5",
		params: []param{{"unsigned long", "clone_flags"}, {"unsigned long", "newsp"}, {"int __user *", "parent_tidptr"}, {"unsigned long", "tls"}, {"int __user *", "child_tidptr"}},
		conds:  []string{"defined(__ARCH_WANT_SYS_CLONE)", "defined(CONFIG_CLONE_BACKWARDS)"},
	}, defs[0])
	assert.Equal(t, []string{"defined(__ARCH_WANT_SYS_CLONE)", "!(defined(CONFIG_CLONE_BACKWARDS)) && defined(CONFIG_CLONE_BACKWARDS2)"}, defs[1].conds)
	assert.Equal(t, "newsp", defs[1].params[0].name)
	assert.Equal(t, []string{"defined(__ARCH_WANT_SYS_CLONE)", "!(defined(CONFIG_CLONE_BACKWARDS)) && !(defined(CONFIG_CLONE_BACKWARDS2))"}, defs[2].conds)
	assert.Equal(t, "tls", defs[2].params[4].name)
	assert.Equal(t, definition{entry: "sys_fork", file: "kernel/fork.c", line: 26, macro: "SYSCALL_DEFINE0", params: []param{}}, defs[3])
}

func TestParseCDefinitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		order     byteOrder
		want      []definition
	}{{
		// Spaces around every comma, a pointer type spaced out.
		name: "arch/x86/kernel/ldt.c",
		src: `SYSCALL_DEFINE3(modify_ldt, int , func , void __user * , ptr ,
		unsigned long , bytecount)
{`,
		want: []definition{{entry: "sys_modify_ldt", macro: "SYSCALL_DEFINE3", line: 1,
			params: []param{{"int", "func"}, {"void __user *", "ptr"}, {"unsigned long", "bytecount"}}}},
	}, {
		// A 64-bit argument in two registers, by byte order; the
		// SYSCALL32 macro defines the compat entry on a 64-bit kernel and
		// the native one on a 32-bit kernel.
		name: "fs/notify/fanotify/fanotify_user.c",
		src: `#if defined(CONFIG_ARCH_SPLIT_ARG64) || defined(CONFIG_COMPAT)
SYSCALL32_DEFINE6(fanotify_mark,
				int, fanotify_fd, unsigned int, flags,
				SC_ARG64(mask), int, dfd,
				const char  __user *, pathname)
{
}
#endif`,
		order: bigEndian,
		want: []definition{
			{entry: "compat_sys_fanotify_mark", macro: "SYSCALL32_DEFINE6", line: 2,
				params: []param{{"int", "fanotify_fd"}, {"unsigned int", "flags"}, {"u32", "mask_hi"}, {"u32", "mask_lo"}, {"int", "dfd"}, {"const char __user *", "pathname"}},
				conds:  []string{"defined(CONFIG_ARCH_SPLIT_ARG64) || defined(CONFIG_COMPAT)", "defined(CONFIG_COMPAT)"}},
			{entry: "sys_fanotify_mark", macro: "SYSCALL32_DEFINE6", line: 2,
				params: []param{{"int", "fanotify_fd"}, {"unsigned int", "flags"}, {"u32", "mask_hi"}, {"u32", "mask_lo"}, {"int", "dfd"}, {"const char __user *", "pathname"}},
				conds:  []string{"defined(CONFIG_ARCH_SPLIT_ARG64) || defined(CONFIG_COMPAT)", "!defined(CONFIG_COMPAT)"}},
		},
	}, {
		name: "fs/read_write.c",
		src: `COMPAT_SYSCALL_DEFINE5(pread64, unsigned int, fd, char __user *, buf,
		       size_t, count, compat_arg_u64_dual(pos))
{`,
		want: []definition{{entry: "compat_sys_pread64", macro: "COMPAT_SYSCALL_DEFINE5", line: 1,
			params: []param{{"unsigned int", "fd"}, {"char __user *", "buf"}, {"size_t", "count"}, {"u32", "pos_lo"}, {"u32", "pos_hi"}}}},
	}, {
		name: "arch/powerpc/kernel/sys_ppc32.c",
		src: `PPC32_SYSCALL_DEFINE4(ppc_truncate64,
		       const char __user *, path, u32, reg4,
		       unsigned long, len1, unsigned long, len2)
{`,
		want: []definition{
			{entry: "sys_ppc_truncate64", macro: "PPC32_SYSCALL_DEFINE4", line: 1, conds: []string{"defined(CONFIG_PPC32)"},
				params: []param{{"const char __user *", "path"}, {"u32", "reg4"}, {"unsigned long", "len1"}, {"unsigned long", "len2"}}},
			{entry: "compat_sys_ppc_truncate64", macro: "PPC32_SYSCALL_DEFINE4", line: 1, conds: []string{"!defined(CONFIG_PPC32)"},
				params: []param{{"const char __user *", "path"}, {"u32", "reg4"}, {"unsigned long", "len1"}, {"unsigned long", "len2"}}},
		},
	}, {
		// Plain C functions: a definition over several lines is read, a
		// declaration is not; the value parameter's const goes.
		name: "arch/arm/kernel/sys_oabi-compat.c",
		src: `asmlinkage long sys_ni_syscall(void);
asmlinkage long sys_oabi_stat64(const char __user * filename,
				struct oldabi_stat64 __user * statbuf)
{
}
asmlinkage int sys_oabi_ipc(uint call, int first, const int second,
			    void __user *ptr, long fifth)
{
}
asmlinkage __visible void __init __noreturn i386_start_kernel(void)
{
}`,
		want: []definition{
			{entry: "sys_oabi_stat64", macro: "asmlinkage", line: 2,
				params: []param{{"const char __user *", "filename"}, {"struct oldabi_stat64 __user *", "statbuf"}}},
			{entry: "sys_oabi_ipc", macro: "asmlinkage", line: 6,
				params: []param{{"uint", "call"}, {"int", "first"}, {"int", "second"}, {"void __user *", "ptr"}, {"long", "fifth"}}},
			{entry: "i386_start_kernel", macro: "asmlinkage", line: 10, params: []param{}},
		},
	}, {
		// The macros themselves, and a SYSCALL_DEFINE in a string, are no
		// definitions; an assembly stub and a COND_SYSCALL are noted.
		name: "arch/mips/kernel/syscall.c",
		src: `#define SYSCALL_DEFINE1(name, ...) SYSCALL_DEFINEx(1, _##name, \
	__VA_ARGS__)
static const char *s = "SYSCALL_DEFINE1(fake, int, x)";
save_static_function(sys_clone);
COND_SYSCALL(pciconfig_iobase);
COND_SYSCALL_COMPAT(ipc);
SYSCALL_DEFINE6(mips_mmap, unsigned long, addr, unsigned long, len,
	unsigned long, prot, unsigned long, flags, unsigned long,
	fd, off_t, offset)
{`,
		want: []definition{
			{entry: "sys_mips_mmap", macro: "SYSCALL_DEFINE6", line: 7,
				params: []param{{"unsigned long", "addr"}, {"unsigned long", "len"}, {"unsigned long", "prot"}, {"unsigned long", "flags"}, {"unsigned long", "fd"}, {"off_t", "offset"}}},
			{entry: "cond:sys_pciconfig_iobase", macro: "COND_SYSCALL", line: 5},
			{entry: "cond:compat_sys_ipc", macro: "COND_SYSCALL", line: 6},
			{entry: "__sys_clone", macro: "save_static_function", line: 4, stubFor: "sys_clone"},
		},
	}, {
		name: "broken.c",
		src:  "SYSCALL_DEFINE2(odd, int, fd, char *)\n{",
		want: []definition{{entry: "sys_odd", macro: "SYSCALL_DEFINE2", line: 1, err: "want 2 (type, name) pairs, got 3 fields: int, fd, char *"}},
	}} {
		got := parseC(tc.name, tc.src, tc.order)
		for i := range tc.want {
			tc.want[i].file = tc.name
		}
		assert.Equal(t, tc.want, got, tc.name)
	}
}

// arm's entry-common.S: stubs that only move registers and branch to a C
// function take its parameters; a real assembly entry point does not.
func TestParseAsm(t *testing.T) {
	t.Parallel()
	const src = `
ENTRY(sys_syscall)
		bic	scno, r0, #__NR_OABI_SYSCALL_BASE
		cmp	scno, #__NR_syscall - __NR_SYSCALL_BASE
		ldrlo	pc, [tbl, scno, lsl #2]
		b	sys_ni_syscall
ENDPROC(sys_syscall)

sys_statfs64_wrapper:
		teq	r1, #88
		moveq	r1, #84
		b	sys_statfs64
ENDPROC(sys_statfs64_wrapper)

/*
 * Note: off_4k (r5) is always units of 4K.
 */
sys_mmap2:
		str	r5, [sp, #4]
		b	sys_mmap_pgoff
ENDPROC(sys_mmap2)
`
	defs := parseAsm("arch/arm/kernel/entry-common.S", src)
	require.Len(t, defs, 3)
	assert.Equal(t, definition{entry: "sys_syscall", file: "arch/arm/kernel/entry-common.S", line: 2, macro: "assembly", asm: true}, defs[0])
	assert.Equal(t, definition{entry: "sys_statfs64_wrapper", file: "arch/arm/kernel/entry-common.S", line: 9, macro: "assembly stub", stubFor: "sys_statfs64"}, defs[1])
	assert.Equal(t, "sys_mmap_pgoff", defs[2].stubFor)
	assert.Equal(t, 18, defs[2].line)
}

func TestNormType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"const char  __user *":  "const char __user *",
		"char __user*":          "char __user *",
		"void __user * __user*": "void __user * __user *",
		"char **":               "char **",
		"char * * *":            "char ***",
		"const clockid_t":       "clockid_t",
		"unsigned long const":   "unsigned long",
	} {
		assert.Equal(t, want, normType(in), in)
	}
}
