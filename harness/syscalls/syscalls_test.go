package syscalls

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Numbers every ksystest user knows, and the entry points whose oddities
// the cases exist for (old_mmap, the IA32 clone).
func TestWellKnown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		abi, name   string
		nr          int
		entry       string
		compatEntry string
	}{
		{"x86_64", "write", 1, "sys_write", ""},
		{"x86_64", "mmap", 9, "sys_mmap", ""},
		{"x86_64", "connect", 42, "sys_connect", ""},
		{"x86_64", "clone", 56, "sys_clone", ""},
		{"x86_64", "prctl", 157, "sys_prctl", ""},
		{"x86_64", "splice", 275, "sys_splice", ""},
		{"x86_64", "rt_sigaction", 13, "sys_rt_sigaction", ""}, // not x32's 512
		{"i386", "socketcall", 102, "sys_socketcall", "compat_sys_socketcall"},
		{"i386", "clone", 120, "sys_clone", "compat_sys_ia32_clone"},
		{"i386", "mmap", 90, "sys_old_mmap", "compat_sys_ia32_mmap"},
		{"i386", "mmap2", 192, "sys_mmap_pgoff", ""},
		{"arm64", "write", 64, "sys_write", ""},
		{"arm64", "clone", 220, "sys_clone", ""},
		{"arm64", "mmap", 222, "sys_mmap", ""},
		{"arm64", "fcntl", 25, "sys_fcntl", ""},
		{"arm64", "fstat", 80, "sys_newfstat", ""},
		{"arm", "clone", 120, "sys_clone", ""},
		{"arm", "mmap2", 192, "sys_mmap2", "compat_sys_aarch32_mmap2"},
		{"arm", "connect", 283, "sys_connect", ""},
		{"s390x", "mmap", 90, "sys_old_mmap", "compat_sys_s390_old_mmap"},
		{"s390x", "socketcall", 102, "sys_socketcall", "compat_sys_socketcall"},
		{"s390x", "clone", 120, "sys_clone", ""},
		{"s390x", "connect", 362, "sys_connect", ""},
		{"ppc64", "write", 4, "sys_write", ""},
		{"ppc64", "mmap", 90, "sys_mmap", ""},
		{"ppc64", "oldstat", 18, "sys_ni_syscall", ""}, // the 64 row, not the 32 row's sys_stat
		{"mips-n64", "write", 5001, "sys_write", ""},
		{"mips-n64", "clone", 5055, "__sys_clone", ""},
		{"mips-o32", "write", 4004, "sys_write", ""},
		{"mips-o32", "syscall", 4000, "sys_syscall", "sys32_syscall"},
		{"riscv64", "clone", 220, "sys_clone", ""},
		{"riscv64", "riscv_flush_icache", 259, "sys_riscv_flush_icache", ""},
	} {
		s, ok := Lookup(tc.abi, tc.name)
		require.True(t, ok, "%s %s", tc.abi, tc.name)
		assert.Equal(t, tc.nr, s.NR, "%s %s", tc.abi, tc.name)
		assert.Equal(t, tc.entry, s.Entry, "%s %s", tc.abi, tc.name)
		assert.Equal(t, tc.compatEntry, s.CompatEntry, "%s %s", tc.abi, tc.name)
		byNR, ok := ByNumber(tc.abi, tc.nr)
		require.True(t, ok, "%s %d", tc.abi, tc.nr)
		assert.Equal(t, s, byNR)
	}
}

// What an ABI must not have: other ABIs' rows of a shared table.
func TestRowsOfOtherABIs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ abi, name string }{
		{"x86_64", "socketcall"},
		{"arm64", "fcntl64"},    // 32-bit generic row
		{"arm64", "mmap2"},      // 32-bit generic row
		{"arm", "socketcall"},   // OABI only
		{"s390x", "mmap2"},      // 31-bit only
		{"riscv64", "renameat"}, // arm64 keeps it, riscv does not
	} {
		_, ok := Lookup(tc.abi, tc.name)
		assert.False(t, ok, "%s has %s", tc.abi, tc.name)
	}
	_, ok := ByNumber("x86_64", 512) // x32's rt_sigaction
	assert.False(t, ok)
	_, ok = Lookup("sparc", "write")
	assert.False(t, ok)
}

func TestEveryTable(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"arm", "arm64", "i386", "mips-n64", "mips-o32", "ppc64", "riscv64", "s390x", "x86_64"}, ABIs())
	for _, abi := range ABIs() {
		all := All(abi)
		require.Greater(t, len(all), 300, abi)
		names := map[string]bool{}
		for i, s := range all {
			assert.False(t, names[s.Name], "%s: %s twice", abi, s.Name)
			names[s.Name] = true
			if i > 0 {
				assert.Greater(t, s.NR, all[i-1].NR, "%s: %s", abi, s.Name)
			}
			got, ok := Lookup(abi, s.Name)
			assert.True(t, ok)
			assert.Equal(t, s, got)
			if s.CompatEntry != "" {
				assert.NotEqual(t, s.Entry, s.CompatEntry, "%s: %s", abi, s.Name)
			}
		}
	}
	assert.Nil(t, All("sparc"))
}

func TestForGOARCH(t *testing.T) {
	t.Parallel()
	for goarch, want := range map[string]string{
		"386": "i386", "amd64": "x86_64", "arm": "arm", "arm64": "arm64", "s390x": "s390x",
		"ppc64le": "ppc64", "mips64le": "mips-n64", "mipsle": "mips-o32", "riscv64": "riscv64",
	} {
		abi, ok := ForGOARCH(goarch)
		require.True(t, ok, goarch)
		assert.Equal(t, want, abi, goarch)
	}
	for goarch := range goarchABI {
		abi, _ := ForGOARCH(goarch)
		assert.True(t, slices.Contains(ABIs(), abi), "%s maps to unknown ABI %s", goarch, abi)
	}
	_, ok := ForGOARCH("wasm")
	assert.False(t, ok)
}
