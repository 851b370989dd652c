package arch

import (
	"debug/elf"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every arch must fill every field: a missing one would silently boot a
// guest with a wrong default somewhere else.
func TestTableComplete(t *testing.T) {
	// SyscallPrefix: ppc64le's wrapper entry points are plain sys_NAME.
	// MaxCPUs: only where the machine takes fewer CPUs than asked.
	// NoStringsAtEntry: only where the kernel cannot take the copy.
	optional := map[string]bool{"BootVmlinux": true, "Compat": true, "SyscallPrefix": true, "FtraceEntrySize": true, "MaxCPUs": true, "NoStringsAtEntry": true}
	for _, a := range All() {
		v := reflect.ValueOf(a)
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if optional[f.Name] {
				continue
			}
			assert.False(t, v.Field(i).IsZero(), "%s: field %s is empty", a.Name, f.Name)
		}
	}
}

func TestLookup(t *testing.T) {
	a, err := Lookup("s390x")
	require.NoError(t, err)
	assert.Equal(t, "__s390x_", a.SyscallPrefix)

	_, err = Lookup("sparc")
	require.ErrorContains(t, err, `unknown arch "sparc"`)
	require.ErrorContains(t, err, "arm, arm64, i386, mips64el, ppc64le, riscv64, s390x, x86_64")
}

func TestTargets(t *testing.T) {
	var suffixes []string
	for _, b := range BPFTargets() {
		assert.Contains(t, []string{"bpfel", "bpfeb"}, b.Clang)
		suffixes = append(suffixes, b.Suffix())
	}
	assert.Equal(t, []string{"arm64_bpfel", "arm_bpfel", "mips_bpfel", "powerpc_bpfel", "riscv_bpfel", "s390_bpfeb", "x86_bpfel"}, suffixes)

	mips, err := Lookup("mips64el")
	require.NoError(t, err)
	assert.Equal(t, []string{"GOARCH=mips64le", "GOMIPS64=softfloat", "GOOS=linux"}, mips.Go.Env())
	assert.Equal(t, "mipsle (GOMIPS=softfloat)", mips.Compat.String())
	a, err := ByGOARCH("386")
	require.NoError(t, err)
	assert.Equal(t, "i386", a.Name)
}

// Debian names a cross compiler's package after its triplet and the static
// libc's after the Debian arch: a typo here would have users install a
// package that does not exist.
func TestCrossToolchainNames(t *testing.T) {
	for _, a := range All() {
		triplet, ok := strings.CutSuffix(a.CrossCC, "-gcc")
		assert.True(t, ok, "%s: CrossCC %q is not a gcc", a.Name, a.CrossCC)
		assert.Equal(t, "gcc-"+strings.ReplaceAll(triplet, "_", "-"), a.CrossCCPackage, a.Name)
		assert.Equal(t, "libc6-dev-"+a.DebianArch+"-cross", a.CrossLibcPackage, a.Name)
	}
}

func TestMatchELF(t *testing.T) {
	s390x, err := Lookup("s390x")
	require.NoError(t, err)
	arm64, err := Lookup("arm64")
	require.NoError(t, err)
	header := func(a Arch) *elf.File {
		return &elf.File{FileHeader: elf.FileHeader{Machine: a.ELFMachine, Class: a.ELFClass, Data: a.ELFData}}
	}
	assert.NoError(t, s390x.MatchELF(header(s390x)))
	assert.EqualError(t, s390x.MatchELF(header(arm64)),
		"built for EM_AARCH64 ELFCLASS64 ELFDATA2LSB, not s390x's EM_S390 ELFCLASS64 ELFDATA2MSB")

	// Same machine, other byte order: mips64 is not mips64el.
	mips, err := Lookup("mips64el")
	require.NoError(t, err)
	be := header(mips)
	be.Data = elf.ELFDATA2MSB
	assert.Error(t, mips.MatchELF(be))
}
