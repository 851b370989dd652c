package matrix

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kernel: {distro: ubuntu} takes Ubuntu's kernels: flavour generic unless
// named; debian when unsaid. A distro ksystest does not know, or Ubuntu
// for an arch outside its archive proper, is an error with file and line,
// all at once.
func TestKernelDistro(t *testing.T) {
	f := writeFile(t, "matrix.yaml", `apiVersion: ksystest/v1
targets:
  - name: x86_64-ubuntu-5.4
    arch: x86_64
    kernel: {distro: ubuntu, suite: focal-updates}
    syscallWrapper: true
  - arch: i386
    kernel: {distro: ubuntu, suite: jammy-updates, package: linux-image-unsigned-5.15.0-9-generic}
    syscallWrapper: true
  - arch: x86_64
    kernel: {suite: bookworm}
    syscallWrapper: true
`)
	m, err := Load(f, builtinFiles)
	require.NoError(t, err)
	ubuntu, pinned, debian := m.Targets.List[0], m.Targets.List[1], m.Targets.List[2]
	assert.Equal(t, DistroUbuntu, ubuntu.Kernel.Distro)
	assert.Equal(t, UbuntuFlavour, ubuntu.Kernel.Flavour)
	assert.Empty(t, pinned.Kernel.Flavour, "a package named follows no flavour")
	assert.Equal(t, "i386-jammy-updates", pinned.Name)
	assert.Equal(t, DistroDebian, debian.Kernel.Distro)
	assert.Equal(t, "amd64", debian.Kernel.Flavour)

	bad := writeFile(t, "matrix.yaml", `apiVersion: ksystest/v1
targets:
  - arch: x86_64
    kernel: {distro: fedora, suite: f40}
    syscallWrapper: true
  - arch: arm64
    kernel: {distro: ubuntu, suite: noble-updates}
    syscallWrapper: true
  - arch: x86_64
    kernel: {distro: ubuntu}
    syscallWrapper: true
  - arch: x86_64
    kernel: {distro: ubuntu, local: {vmlinuz: v, config: c}}
    syscallWrapper: true
  - arch: x86_64
    kernel: {distro: Ubuntu, suite: noble}
    syscallWrapper: true
`)
	_, err = Load(bad, builtinFiles)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, `matrix.yaml:4: targets[0].kernel.distro: "fedora": want debian or ubuntu`)
	assert.Contains(t, msg, "matrix.yaml:7: targets[1].kernel.distro: ubuntu: ksystest reads Ubuntu's archive for x86_64 and i386 only, not arm64")
	assert.Contains(t, msg, "matrix.yaml:10: targets[2].kernel.suite: missing: which Ubuntu suite")
	assert.Contains(t, msg, "matrix.yaml:13: targets[3].kernel.local: a local kernel takes no suite, package, flavour or distro")
	assert.Contains(t, msg, `targets[4].kernel.distro: "Ubuntu": want debian or ubuntu`)

	unknown := writeFile(t, "matrix.yaml", `apiVersion: ksystest/v1
targets:
  - arch: x86_64
    kernel: {distro: ubuntu, suite: noble, release: 6.8}
    syscallWrapper: true
`)
	_, err = Load(unknown, builtinFiles)
	assert.ErrorContains(t, err, `matrix.yaml:4: unknown field "release"`)
}

// The default matrix's Ubuntu targets: x86_64, named ARCH-ubuntu-VERSION
// so that --only '*-ubuntu-*' picks them.
func TestDefaultMatrixUbuntuTargets(t *testing.T) {
	m, err := LoadBuiltin(builtinFiles)
	require.NoError(t, err)
	sel, err := m.Select("*-ubuntu-*")
	require.NoError(t, err)
	var names []string
	for _, tg := range sel {
		names = append(names, tg.Name)
		assert.Equal(t, DistroUbuntu, tg.Kernel.Distro, tg.Name)
		assert.Equal(t, "x86_64", tg.Arch, tg.Name)
	}
	assert.Equal(t, []string{"x86_64-ubuntu-5.4", "x86_64-ubuntu-5.15", "x86_64-ubuntu-6.8"}, names)
	for _, tg := range m.Targets.List {
		if tg.Kernel.Distro != DistroUbuntu {
			assert.NotContains(t, tg.Name, "-ubuntu-")
		}
	}
}
