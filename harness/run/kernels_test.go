package run

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/kernel"
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

// A kernel without BTF that ksystest cannot make BTF for (Ubuntu's archive
// has no debug packages; a local kernel has no package) is the
// configuration's to mend with a btf: file: config-error, not the host's.
func TestKernelWithoutBTFIsConfigError(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(config, []byte("# CONFIG_DEBUG_INFO_BTF is not set\n"), 0o644))
	a, err := arch.Lookup("x86_64")
	require.NoError(t, err)
	recipe, err := kernel.ReadBTFRecipe(os.DirFS("../../images"), "btf.yaml")
	require.NoError(t, err)
	d := DebianKernels{Archive: func() (*archive.Fetcher, error) { return nil, nil }, BTFRecipe: recipe}
	var ce *ConfigError

	bionic := matrix.Target{Name: "x86_64-ubuntu-4.15", Arch: "x86_64", Kernel: matrix.Kernel{Distro: matrix.DistroUbuntu, Suite: "bionic-updates"}}
	_, _, err = d.BTF(context.Background(), bionic, a, &kernel.Kernel{Package: "linux-image-4.15.0-213-generic", Distro: "ubuntu", Config: config})
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, kernel.ErrNoBTF)

	local := matrix.Target{Name: "x86_64", Arch: "x86_64", Kernel: matrix.Kernel{Local: &matrix.LocalKernel{Vmlinuz: "bzImage", Config: config}}}
	_, _, err = d.BTF(context.Background(), local, a, &kernel.Kernel{Package: "local", Vmlinuz: "bzImage", Config: config})
	require.ErrorAs(t, err, &ce)
	assert.ErrorContains(t, err, "give the target a btf: file")
}
