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
	optional := map[string]bool{"GOARM": true, "BootVmlinux": true, "CompatGOARCH": true, "CompatGOARM": true}
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
	require.ErrorContains(t, err, "arm, arm64, s390x, x86_64")
}
