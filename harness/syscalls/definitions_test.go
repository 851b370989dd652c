package syscalls

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every entry point of every table has a definition, as the kernel of
// its own calls and, for a compat ABI, as the 64-bit kernel builds it;
// the few without parameters say why.
func TestEveryEntryDefined(t *testing.T) {
	t.Parallel()
	for _, abi := range ABIs() {
		missing := 0
		for _, s := range All(abi) {
			for _, e := range []struct {
				entry  string
				compat bool
			}{{s.Entry, false}, {s.Entry, true}, {s.CompatEntry, true}} {
				if e.entry == "" {
					continue
				}
				d, ok := DefinitionOf(abi, e.entry, e.compat)
				require.True(t, ok, "%s %s (compat %v)", abi, e.entry, e.compat)
				assert.Equal(t, e.entry, d.Entry)
				if d.Params == nil {
					assert.NotEmpty(t, d.Missing, "%s %s", abi, e.entry)
					missing++
					continue
				}
				assert.Empty(t, d.Missing)
				assert.NotEmpty(t, d.Where, "%s %s", abi, e.entry)
				assert.LessOrEqual(t, len(d.Params), 7, "%s %s", abi, e.entry)
				for _, p := range d.Params {
					assert.Regexp(t, `^[A-Za-z_][A-Za-z0-9_]*$`, p.Name, "%s %s", abi, e.entry)
					assert.NotEmpty(t, p.Type, "%s %s", abi, e.entry)
				}
			}
		}
		t.Logf("%s: %d lookups without parameters", abi, missing)
	}
	_, ok := DefinitionOf("x86_64", "sys_no_such_call", false)
	assert.False(t, ok)
	_, ok = DefinitionOf("sparc", "sys_write", false)
	assert.False(t, ok)
}

// Definitions whose reading takes the parser through each kind of
// source: multi-line SYSCALL_DEFINEs, COMPAT and arch definitions,
// assembly stubs, config-chosen variants.
func TestDefinitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		abi, entry string
		compat     bool
		names      []string
		types      []string
		where      string
	}{
		// The label a user wrote as buf: the kernel says buff.
		{abi: "mips-n64", entry: "sys_sendto", names: []string{"fd", "buff", "len", "flags", "addr", "addr_len"},
			types: []string{"int", "void __user *", "size_t", "unsigned int", "struct sockaddr __user *", "int"}, where: "net/socket.c:"},
		{abi: "x86_64", entry: "sys_getpid", names: []string{}, where: "kernel/sys.c:"},
		{abi: "x86_64", entry: "sys_mmap", names: []string{"addr", "len", "prot", "flags", "fd", "off"}, where: "arch/x86/kernel/sys_x86_64.c:"},
		{abi: "x86_64", entry: "sys_clone", names: []string{"clone_flags", "newsp", "parent_tidptr", "child_tidptr", "tls"}},
		// CONFIG_CLONE_BACKWARDS2, read from arch/s390/Kconfig.
		{abi: "s390x", entry: "sys_clone", names: []string{"newsp", "clone_flags", "parent_tidptr", "child_tidptr", "tls"}},
		{abi: "s390x", entry: "sys_old_mmap", names: []string{"arg"}, types: []string{"struct mmap_arg_struct __user *"}},
		{abi: "i386", entry: "compat_sys_ia32_clone", compat: true, names: []string{"clone_flags", "newsp", "parent_tidptr", "tls_val", "child_tidptr"},
			where: "arch/x86/kernel/sys_ia32.c:"},
		{abi: "i386", entry: "compat_sys_ia32_mmap", compat: true, names: []string{"arg"}},
		// The 64-bit kernel builds mseal; 32-bit ones do not.
		{abi: "i386", entry: "sys_mseal", compat: true, names: []string{"start", "len", "flags"}},
		// A 64-bit argument split in two registers, little-endian.
		{abi: "i386", entry: "compat_sys_fanotify_mark", compat: true,
			names: []string{"fanotify_fd", "flags", "mask_lo", "mask_hi", "dfd", "pathname"}},
		{abi: "x86_64", entry: "sys_fanotify_mark", names: []string{"fanotify_fd", "flags", "mask", "dfd", "pathname"}},
		// arm's assembly stub branches to sys_mmap_pgoff.
		{abi: "arm", entry: "sys_mmap2", names: []string{"addr", "len", "prot", "flags", "fd", "pgoff"}, where: "arch/arm/kernel/entry-common.S:"},
		{abi: "arm", entry: "compat_sys_aarch32_mmap2", compat: true, where: "arch/arm64/kernel/sys32.c:",
			names: []string{"addr", "len", "prot", "flags", "fd", "off_4k"}},
		// mips' save_static_function stub calls sys_clone.
		{abi: "mips-n64", entry: "__sys_clone", names: []string{"clone_flags", "newsp", "parent_tidptr", "tls", "child_tidptr"}, where: "save_static_function"},
		{abi: "mips-n64", entry: "sys_mips_mmap", names: []string{"addr", "len", "prot", "flags", "fd", "offset"}},
		{abi: "mips-o32", entry: "sys32_readahead", compat: true, names: []string{"fd", "pad0", "a2", "a3", "count"}},
		{abi: "riscv64", entry: "sys_riscv_flush_icache", names: []string{"start", "end", "flags"}},
		{abi: "ppc64", entry: "sys_mmap", names: []string{"addr", "len", "prot", "flags", "fd", "offset"}},
		// pci_64.c, as arch/powerpc/kernel/Makefile builds pci_$(BITS).o.
		{abi: "ppc64", entry: "sys_pciconfig_iobase", names: []string{"which", "in_bus", "in_devfn"}, where: "pci_64.c"},
	} {
		d, ok := DefinitionOf(tc.abi, tc.entry, tc.compat)
		require.True(t, ok, "%s %s", tc.abi, tc.entry)
		require.Empty(t, d.Missing, "%s %s", tc.abi, tc.entry)
		assert.Equal(t, tc.names, d.Names(), "%s %s", tc.abi, tc.entry)
		if tc.types != nil {
			var types []string
			for _, p := range d.Params {
				types = append(types, p.Type)
			}
			assert.Equal(t, tc.types, types, "%s %s", tc.abi, tc.entry)
		}
		assert.Contains(t, d.Where, tc.where, "%s %s", tc.abi, tc.entry)
	}
}

// What the source gives no parameters for, and why.
func TestDefinitionsMissing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		abi, entry string
		compat     bool
		why        string
	}{
		{"x86_64", "sys_ni_syscall", false, "sys_ni_syscall"},
		{"i386", "sys_mseal", false, "COND_SYSCALL"},
		{"arm64", "sys_map_shadow_stack", false, "COND_SYSCALL"},
		{"arm", "sys_sigreturn_wrapper", false, "saved registers"},
		{"mips-o32", "sys_syscall", false, "assembly"},
		{"mips-o32", "sys32_syscall", true, "assembly"},
	} {
		d, ok := DefinitionOf(tc.abi, tc.entry, tc.compat)
		require.True(t, ok, "%s %s", tc.abi, tc.entry)
		assert.Nil(t, d.Params, "%s %s", tc.abi, tc.entry)
		assert.Contains(t, d.Missing, tc.why, "%s %s", tc.abi, tc.entry)
	}
}
