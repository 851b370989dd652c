package run

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/matrix"
)

// Every distro a matrix may name is one whose archive ksystest reads, and
// a target's distro reaches the kernel it asks for.
func TestMatrixDistrosHaveArchives(t *testing.T) {
	for _, name := range matrix.Distros {
		d, err := archive.DistroNamed(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, d.Name)
	}
	assert.Len(t, archive.Distros, len(matrix.Distros))

	a, err := arch.Lookup("x86_64")
	require.NoError(t, err)
	tg := matrix.Target{Name: "x86_64-ubuntu-5.4", Arch: "x86_64", Kernel: matrix.Kernel{Distro: matrix.DistroUbuntu, Suite: "focal-updates", Flavour: "generic"}}
	ref := KernelRef(tg, a)
	assert.Equal(t, "ubuntu focal-updates amd64 flavour generic", ref.String())
	assert.True(t, ref.UnpackBzImage)
}
