package syscalls_test

import (
	"go/build"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/syscalls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every program ksystest runs in a guest, native or compat, has a table.
func TestEveryArchHasItsABIs(t *testing.T) {
	t.Parallel()
	for _, a := range arch.All() {
		ports := []arch.GoTarget{a.Go}
		if a.Compat != nil {
			ports = append(ports, *a.Compat)
		}
		for _, p := range ports {
			_, ok := syscalls.ForGOARCH(p.GOARCH)
			assert.True(t, ok, "%s: no syscall ABI for GOARCH %s", a.Name, p.GOARCH)
		}
	}
}

// The agent of every guest arch links this package: it must stay
// standard library only.
func TestStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	require.NoError(t, err)
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		assert.NotContains(t, first, ".", "syscalls imports %s", imp)
	}
}
