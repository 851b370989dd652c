package main

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func file(text string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(text)} }

func TestParseTable(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"t.tbl": file(`# <number> <abi> <name> <entry point> [<compat entry point> [noreturn]]
0	common	read		sys_read

1	i386	exit		sys_exit	-	noreturn
2	i386	clone		sys_clone	compat_sys_ia32_clone
17	i386	break
`)}
	rows, err := parseTable(fsys, "t.tbl")
	require.NoError(t, err)
	assert.Equal(t, []row{
		{nr: 0, abi: "common", name: "read", entry: "sys_read"},
		{nr: 1, abi: "i386", name: "exit", entry: "sys_exit"},
		{nr: 2, abi: "i386", name: "clone", entry: "sys_clone", compatColumn: "compat_sys_ia32_clone"},
		{nr: 17, abi: "i386", name: "break"},
	}, rows)

	for _, bad := range []string{"x common read sys_read", "1 common", "1 common exit sys_exit - sometimes"} {
		_, err := parseTable(fstest.MapFS{"t.tbl": file("# c\n" + bad + "\n")}, "t.tbl")
		assert.ErrorContains(t, err, "t.tbl:2: ", bad)
	}
}

// A kernel tree shaped like 6.12's, shrunk to what each ABI kind reads.
func tree() fstest.MapFS {
	return fstest.MapFS{
		"scripts/Makefile.asm-headers": file(`syscall_abis_32  += common,32
syscall_abis_64  += common,64
syscalltbl := $(srctree)/scripts/syscall.tbl
$(obj)/unistd_compat_%.h: syscall_compat:=1
`),
		"scripts/syscall.tbl": file(`0	common	io_setup	sys_io_setup	compat_sys_io_setup
25	32	fcntl64		sys_fcntl64	compat_sys_fcntl64
25	64	fcntl		sys_fcntl
38	renameat renameat	sys_renameat
71	64	sendfile	sys_sendfile64
259	riscv	riscv_flush_icache	sys_riscv_flush_icache
`),
		"arch/arm64/kernel/Makefile.syscalls": file("syscall_abis_32 +=\nsyscall_abis_64 += renameat\n\nsyscalltbl = arch/arm64/tools/syscall_%.tbl\n"),
		"arch/arm64/tools/syscall_64.tbl":     file("0	common	io_setup	sys_io_setup	compat_sys_io_setup\n25	64	fcntl		sys_fcntl\n"),
		"arch/arm64/tools/syscall_32.tbl":     file("0	common	restart_syscall	sys_restart_syscall\n192	common	mmap2	sys_mmap2	compat_sys_aarch32_mmap2\n"),
		"arch/riscv/kernel/Makefile.syscalls": file("syscall_abis_32 += riscv\nsyscall_abis_64 += riscv\n"),
		"arch/arm/tools/syscall.tbl": file(`0	common	restart_syscall	sys_restart_syscall
90	oabi	mmap		sys_old_mmap
192	common	mmap2		sys_mmap2
`),
		"arch/arm/tools/Makefile": file("      cmd_syshdr = $(CONFIG_SHELL) $(syshdr) --abis common,$*  \\\n"),
		"arch/mips/include/uapi/asm/unistd.h": file(`#if _MIPS_SIM == _MIPS_SIM_ABI32
#define __NR_Linux	4000
#include <asm/unistd_o32.h>
#endif
#if _MIPS_SIM == _MIPS_SIM_ABI64
#define __NR_Linux	5000
#include <asm/unistd_n64.h>
#endif
`),
		"arch/mips/kernel/syscalls/syscall_o32.tbl": file("0	o32	syscall	sys_syscall	sys32_syscall\n4	o32	write	sys_write\n"),
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	arm := abi{
		name: "arm", table: "arch/arm/tools/syscall.tbl", rows: []string{"common", "eabi"},
		evidence: []evidence{{"arch/arm/tools/Makefile", "cmd_syshdr = $(CONFIG_SHELL) $(syshdr) --abis common,$* \\"}},
		compat:   &abi{name: "arm64 compat", generic: "arm64"},
	}
	for _, tc := range []struct {
		abi  abi
		from string
		want []syscall
	}{{
		// arm64 reads its own table, and its compat ABI another one.
		abi:  abi{name: "arm64", generic: "arm64"},
		from: "arch/arm64/tools/syscall_64.tbl, rows common,64,renameat",
		want: []syscall{{nr: 0, name: "io_setup", entry: "sys_io_setup"}, {nr: 25, name: "fcntl", entry: "sys_fcntl"}},
	}, {
		// riscv64's compat ABI shares its table: common and riscv rows keep
		// their compat column.
		abi:  abi{name: "riscv64", generic: "riscv"},
		from: "scripts/syscall.tbl, rows common,64,riscv, compat column of rows common,32,riscv",
		want: []syscall{
			{nr: 0, name: "io_setup", entry: "sys_io_setup", compat: "compat_sys_io_setup"},
			{nr: 25, name: "fcntl", entry: "sys_fcntl"},
			{nr: 71, name: "sendfile", entry: "sys_sendfile64"},
			{nr: 259, name: "riscv_flush_icache", entry: "sys_riscv_flush_icache"},
		},
	}, {
		abi:  arm,
		from: "arch/arm/tools/syscall.tbl, rows common,eabi; compat entries: arch/arm64/tools/syscall_32.tbl, rows common,32",
		want: []syscall{
			{nr: 0, name: "restart_syscall", entry: "sys_restart_syscall"},
			{nr: 192, name: "mmap2", entry: "sys_mmap2", compat: "compat_sys_aarch32_mmap2"},
		},
	}, {
		abi:  abi{name: "mips-o32", table: "arch/mips/kernel/syscalls/syscall_o32.tbl", mipsSim: "o32", compatRows: []string{"o32"}},
		from: "arch/mips/kernel/syscalls/syscall_o32.tbl, all rows, numbers + 4000, compat column of rows o32",
		want: []syscall{
			{nr: 4000, name: "syscall", entry: "sys_syscall", compat: "sys32_syscall"},
			{nr: 4004, name: "write", entry: "sys_write"},
		},
	}} {
		got, err := build(tree(), tc.abi)
		require.NoError(t, err, tc.abi.name)
		assert.Equal(t, table{abi: tc.abi.name, from: tc.from, syscalls: tc.want}, got, tc.abi.name)
	}
}

// A kernel that no longer says what an ABI's definition assumes stops the
// generator.
func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	arm := abi{name: "arm", table: "arch/arm/tools/syscall.tbl", rows: []string{"common", "eabi"}, compat: &abi{name: "arm64 compat", generic: "arm64"}}
	for _, tc := range []struct {
		name   string
		change func(fstest.MapFS)
		abi    abi
		want   string
	}{{
		name: "evidence gone",
		abi:  abi{name: "arm", table: "arch/arm/tools/syscall.tbl", evidence: []evidence{{"arch/arm/tools/Makefile", "--abis common,oabi"}}},
		want: `arch/arm/tools/Makefile no longer says "--abis common,oabi"`,
	}, {
		name: "compat table out of step",
		change: func(fs fstest.MapFS) {
			fs["arch/arm64/tools/syscall_32.tbl"] = file("0	common	restart_syscall	sys_restart_syscall\n192	common	mmap3	sys_mmap3\n")
		},
		abi:  arm,
		want: `arm: arch/arm/tools/syscall.tbl says 192 is mmap2, the compat table says "mmap3"`,
	}, {
		name: "compat table has more",
		change: func(fs fstest.MapFS) {
			fs["arch/arm64/tools/syscall_32.tbl"].Data = append(fs["arch/arm64/tools/syscall_32.tbl"].Data, "300	common	x	sys_x\n"...)
		},
		abi:  arm,
		want: "the compat table has 300 x",
	}, {
		name: "name twice",
		change: func(fs fstest.MapFS) {
			fs["arch/arm/tools/syscall.tbl"] = file("1 common write sys_write\n2 common write sys_write\n")
		},
		abi:  abi{name: "arm", table: "arch/arm/tools/syscall.tbl"},
		want: "names write twice",
	}, {
		name: "numbers not increasing",
		change: func(fs fstest.MapFS) {
			fs["arch/arm/tools/syscall.tbl"] = file("2 common write sys_write\n1 common read sys_read\n")
		},
		abi:  abi{name: "arm", table: "arch/arm/tools/syscall.tbl"},
		want: "1 read: numbers not increasing",
	}, {
		name: "no rows",
		abi:  abi{name: "arm", table: "arch/arm/tools/syscall.tbl", rows: []string{"eabi"}},
		want: "no rows of abis eabi",
	}, {
		name: "no mips offset",
		abi:  abi{name: "mips-n32", table: "arch/mips/kernel/syscalls/syscall_o32.tbl", mipsSim: "n32"},
		want: "no __NR_Linux before the include of unistd_n32.h",
	}, {
		name: "no abis",
		change: func(fs fstest.MapFS) {
			fs["scripts/Makefile.asm-headers"] = file("syscalltbl := $(srctree)/scripts/syscall.tbl\n")
			fs["arch/riscv/kernel/Makefile.syscalls"] = file("syscall_abis_32 += riscv\n")
		},
		abi:  abi{name: "riscv64", generic: "riscv"},
		want: "no syscall_abis_64",
	}} {
		fsys := tree()
		if tc.change != nil {
			tc.change(fsys)
		}
		_, err := build(fsys, tc.abi)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
}

func TestWriteTables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	handWritten := filepath.Join(dir, "lookup_table.go")
	require.NoError(t, os.WriteFile(handWritten, []byte("package syscalls\n"), 0o644))
	stale := filepath.Join(dir, "sparc_table.go")
	require.NoError(t, os.WriteFile(stale, []byte(generatedBy+"\n\npackage syscalls\n"), 0o644))
	staleParams := filepath.Join(dir, "sparc_params.go")
	require.NoError(t, os.WriteFile(staleParams, []byte(generatedBy+"\n\npackage syscalls\n"), 0o644))

	err := writeTables(dir, "linux-source-6.12 1 (trixie), sha256 ab", "6.12.1", []table{{
		abi: "mips-o32", from: "syscall_o32.tbl, all rows",
		syscalls: []syscall{{nr: 4000, name: "syscall", entry: "sys_syscall", compat: "sys32_syscall"}, {nr: 4017, name: "break"}},
	}}, []paramTable{{
		abi: "mips-o32",
		native: []entryParams{
			{entry: "sys_getpid", params: []param{}, where: "kernel/sys.c:967", syscalls: []string{"getpid"}},
			{entry: "sys_syscall", why: "defined in assembly (arch/mips/kernel/scall32-o32.S:183), with no C parameters", syscalls: []string{"syscall"}},
			{entry: "sys_write", params: []param{{"unsigned int", "fd"}, {"const char __user *", "buf"}, {"size_t", "count"}}, where: "fs/read_write.c:737", syscalls: []string{"write"}},
		},
		compat: []entryParams{{entry: "sys_mseal", params: []param{{"unsigned long", "start"}}, where: "mm/mseal.c:264", syscalls: []string{"mseal"}}},
	}})
	require.NoError(t, err)

	assert.FileExists(t, handWritten)
	assert.NoFileExists(t, stale)
	assert.NoFileExists(t, staleParams)
	data, err := os.ReadFile(filepath.Join(dir, "mips_o32_table.go"))
	require.NoError(t, err)
	assert.Equal(t, generatedBy+`

// From linux-source-6.12 1 (trixie), sha256 ab:
// syscall_o32.tbl, all rows.

package syscalls

const mips_o32Table = `+"`"+`
4000	syscall	sys_syscall	sys32_syscall
4017	break	-	-
`+"`\n", string(data))
	index, err := os.ReadFile(filepath.Join(dir, "tables_gen.go"))
	require.NoError(t, err)
	assert.Contains(t, string(index), `const Source = "linux-source-6.12 1 (trixie), sha256 ab"`)
	assert.Contains(t, string(index), `"mips-o32": mips_o32Table,`)
	assert.Contains(t, string(index), `const KernelVersion = "6.12.1"`)
	assert.Contains(t, string(index), "case \"mips-o32\":\n\t\treturn mips_o32Params, mips_o32CompatParams\n")

	data, err = os.ReadFile(filepath.Join(dir, "mips_o32_params.go"))
	require.NoError(t, err)
	assert.Equal(t, generatedBy+`

// From linux-source-6.12 1 (trixie), sha256 ab:
// the parameters of each entry point of the mips-o32 table, as its
// SYSCALL_DEFINE, COMPAT_SYSCALL_DEFINE, asmlinkage function or assembly
// stub defines them.
//
// 3 entry points, 1 without parameters to name:
//   - sys_syscall (syscall): defined in assembly (arch/mips/kernel/scall32-o32.S:183), with no C parameters
//
// 1 read otherwise by the 64-bit kernel that runs them for compat tasks, 0 without parameters to name.

package syscalls

const mips_o32Params = `+"`"+`
sys_getpid	kernel/sys.c:967
sys_syscall	-	defined in assembly (arch/mips/kernel/scall32-o32.S:183), with no C parameters
sys_write	fs/read_write.c:737	unsigned int fd	const char __user * buf	size_t count
`+"`"+`

const mips_o32CompatParams = `+"`"+`
sys_mseal	mm/mseal.c:264	unsigned long start
`+"`\n", string(data))
}
