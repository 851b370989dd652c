package arch

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every arch must fill every field: a missing one would silently boot a
// guest with a wrong default somewhere else.
func TestTableComplete(t *testing.T) {
	// SyscallPrefix: ppc64le's wrapper entry points are plain sys_NAME.
	optional := map[string]bool{"BootVmlinux": true, "Compat": true, "SyscallPrefix": true, "FtraceEntrySize": true}
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
