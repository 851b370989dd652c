package kernel

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var followGeneric = Ref{Distro: "ubuntu", Suite: "focal-updates", DebArch: "amd64", Flavour: "generic"}

// ubuntuArchive is a run's archive: Debian's fetcher (bookworm has the
// standard Debian kernel), whose Other gives the fake Ubuntu archive's,
// with Ubuntu's kernel packages in focal-updates. Both share one cache.
func ubuntuArchive(t *testing.T, pkgs []archivetest.Package) (Archive, *archivetest.Mirror, *archivetest.Log) {
	t.Helper()
	deb, ubu := archivetest.NewMirror(t), archivetest.NewUbuntuMirror(t)
	deb.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	ubu.Publish(t, "focal-updates", "amd64", pkgs)
	store := &cache.Cache{Dir: t.TempDir()}
	var logs archivetest.Log
	debian, ubuntu := testFetcher(deb, store, &logs), testFetcher(ubu, store, &logs)
	ubuntu.Distro = archive.Ubuntu
	debian.Other = func(d *archive.Distro) (*archive.Fetcher, error) { return ubuntu.Fetcher, nil }
	return debian, ubu, &logs
}

// Ubuntu's flavour metapackage points at the signed image package, which
// depends on the modules package that holds the config: the kernel is
// the image's vmlinuz with that config, and the cache keys it by both.
func TestUbuntuKernelFollowsTheMetapackageChain(t *testing.T) {
	f, m, _ := ubuntuArchive(t, archivetest.UbuntuKernelPackages(t))
	ctx := context.Background()

	p, err := f.Resolve(ctx, followGeneric)
	require.NoError(t, err)
	assert.Equal(t, archivetest.UbuntuKernel, p.Image.Name)
	require.NotNil(t, p.Modules)
	assert.Equal(t, archivetest.UbuntuModules, p.Modules.Name)
	assert.Equal(t, archivetest.UbuntuVersion, p.Modules.Version)

	k, err := f.Kernel(ctx, followGeneric)
	require.NoError(t, err)
	assert.Equal(t, archivetest.UbuntuKernel, k.Package)
	assert.Equal(t, "ubuntu", k.Distro)
	assert.Equal(t, "focal-updates", k.Suite)
	assert.Equal(t, archivetest.UbuntuRelease, k.Release)
	assert.Equal(t, archivetest.UbuntuModules+" "+archivetest.UbuntuVersion, k.Modules)
	vmlinuz, _ := os.ReadFile(k.Vmlinuz)
	assert.Equal(t, "SIGNED KERNEL", string(vmlinuz))
	config, _ := os.ReadFile(k.Config)
	assert.Equal(t, archivetest.UbuntuConfig, string(config))
	assert.True(t, k.HasOwnBTF())
	assert.Equal(t, filepath.Join(f.Cache.Dir, "kernels", p.Image.SHA256+"-"+p.Modules.SHA256), filepath.Dir(k.Vmlinuz))

	again, err := f.Kernel(ctx, followGeneric)
	require.NoError(t, err)
	assert.True(t, again.Cached)
	assert.Equal(t, 1, m.HitsOf(archivetest.UbuntuKernelPackages(t)[3].Filename()), "the modules package downloaded once")

	// The unsigned image, named: the same modules package gives its config.
	unsigned, err := f.Kernel(ctx, Ref{Distro: "ubuntu", Suite: "focal-updates", DebArch: "amd64", Package: archivetest.UbuntuUnsigned})
	require.NoError(t, err)
	vmlinuz, _ = os.ReadFile(unsigned.Vmlinuz)
	assert.Equal(t, "KERNEL", string(vmlinuz))
	config, _ = os.ReadFile(unsigned.Config)
	assert.Equal(t, archivetest.UbuntuConfig, string(config))

	// Debian's suite is Debian's, through the same Archive.
	debian, err := f.Kernel(ctx, Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"})
	require.NoError(t, err)
	assert.Equal(t, archivetest.Kernel, debian.Package)
	assert.Empty(t, debian.Distro)
	assert.Empty(t, debian.Modules)
}

// A modules package of another version than the image's holds another
// build's config: refused.
func TestUbuntuModulesOfAnotherVersionRefused(t *testing.T) {
	pkgs := archivetest.UbuntuKernelPackages(t)
	pkgs[3].Version = "5.4.0-9.11"
	f, _, _ := ubuntuArchive(t, pkgs)
	_, err := f.Resolve(context.Background(), followGeneric)
	assert.ErrorContains(t, err, archivetest.UbuntuModules+" is 5.4.0-9.11: its config would not be the kernel's")

	_, err = f.Resolve(context.Background(), Ref{Distro: "fedora", Suite: "x", DebArch: "amd64", Flavour: "generic"})
	assert.ErrorContains(t, err, `distro "fedora"`)
}

// ksystest lock pins an Ubuntu kernel with its modules package and its
// distro; the lock reads back as written, boots the locked packages, and
// refuses a modules hash edited by hand or a target that now asks for
// another distro's kernel.
func TestUbuntuLockRoundTrip(t *testing.T) {
	f, _, _ := ubuntuArchive(t, archivetest.UbuntuKernelPackages(t))
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "kernels.lock")
	lock, changes, err := f.LockKernels(ctx, &Lock{File: file},
		[]LockTarget{{Name: "x86_64-ubuntu-5.4", Ref: followGeneric}, {Name: "x86_64-6.1", Ref: followAMD64}}, false)
	require.NoError(t, err)
	require.Len(t, changes, 2)
	assert.Equal(t, "not locked → "+archivetest.UbuntuKernel+" "+archivetest.UbuntuVersion, changes[0].String())
	require.NoError(t, lock.Write())
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	modules := archivetest.UbuntuKernelPackages(t)[3]
	assert.Contains(t, string(data), `  - target: x86_64-ubuntu-5.4
    distro: ubuntu
    suite: focal-updates
    arch: amd64
    flavour: generic
    package: `+archivetest.UbuntuKernel+`
`)
	assert.Contains(t, string(data), `    modules:
      package: `+archivetest.UbuntuModules+`
      version: `+archivetest.UbuntuVersion+`
      filename: `+modules.Filename()+`
`)
	assert.Contains(t, string(data), "  - target: x86_64-6.1\n    distro: debian\n")
	read, err := ReadLock(file)
	require.NoError(t, err)
	assert.Equal(t, lock, read)

	again, changes, err := f.LockKernels(ctx, read, []LockTarget{{Name: "x86_64-ubuntu-5.4", Ref: followGeneric}}, true)
	require.NoError(t, err)
	assert.False(t, changes[0].Changed(), "%s", changes[0])
	assert.Equal(t, read.Kernels[0], again.Kernels[0])

	k, err := f.LockedKernel(ctx, read, "x86_64-ubuntu-5.4", followGeneric)
	require.NoError(t, err)
	config, _ := os.ReadFile(k.Config)
	assert.Equal(t, archivetest.UbuntuConfig, string(config))

	debianRef := followGeneric
	debianRef.Distro = ""
	_, err = read.Find("x86_64-ubuntu-5.4", debianRef)
	assert.ErrorIs(t, err, ErrLock)
	assert.ErrorContains(t, err, "locks "+archivetest.UbuntuKernel+" "+archivetest.UbuntuVersion+" for ubuntu focal-updates amd64 flavour generic, but the matrix asks for focal-updates amd64 flavour generic")

	good := read.Kernels[0].Modules.SHA256
	edited := strings.Replace(string(data), good, flipHexDigit(good), 1)
	require.NoError(t, os.WriteFile(file, []byte(edited), 0o644))
	bad, err := ReadLock(file)
	require.NoError(t, err)
	_, err = f.LockedKernel(ctx, bad, "x86_64-ubuntu-5.4", followGeneric)
	var mismatch *LockMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, archivetest.UbuntuModules, mismatch.Package)
	c := LockChange{Target: "x86_64-ubuntu-5.4", Old: &bad.Kernels[0], New: &read.Kernels[0]}
	assert.True(t, c.Changed())
	assert.Contains(t, c.String(), ": modules "+archivetest.UbuntuModules)
}

// A lock written before ksystest took Ubuntu's kernels names no distro:
// its entries are Debian's, and unchanged for lock --check.
func TestLockWithoutDistroIsDebian(t *testing.T) {
	m, lock := lockedArchive(t)
	data, err := os.ReadFile(lock.File)
	require.NoError(t, err)
	old := strings.Replace(string(data), "    distro: debian\n", "", 1)
	require.NotEqual(t, string(data), old)
	read, err := ParseLock(lock.File, []byte(old))
	require.NoError(t, err)
	assert.Equal(t, "debian", read.Kernels[0].Distro)
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &archivetest.Log{})
	_, changes, err := f.LockKernels(context.Background(), read, []LockTarget{{Name: "x86_64-6.1", Ref: followAMD64}}, true)
	require.NoError(t, err)
	assert.False(t, changes[0].Changed(), "%s", changes[0])

	_, err = ParseLock(lock.File, []byte(strings.Replace(string(data), "distro: debian", "distro: fedora", 1)))
	assert.ErrorContains(t, err, `kernels[0].distro: distro "fedora"`)
	_, err = ParseLock(lock.File, []byte(string(data)+"    modules: {package: linux-modules-x, version: '1', filename: ../x, size: 0, sha256: x}\n"))
	assert.ErrorContains(t, err, "kernels[0].modules.filename")
	assert.ErrorContains(t, err, "kernels[0].modules.size")
	assert.ErrorContains(t, err, "kernels[0].modules.sha256")
}

// Ubuntu's archive carries no debug packages: a kernel of it without BTF
// gets none made, and the message says what to do.
func TestUbuntuKernelWithoutBTFSaysSo(t *testing.T) {
	f, _, _ := ubuntuArchive(t, archivetest.UbuntuKernelPackages(t))
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(config, []byte("CONFIG_ARCH_HAS_SYSCALL_WRAPPER=y\n"), 0o644))
	k := &Kernel{Package: "linux-image-4.15.0-9-generic", Distro: "ubuntu", Suite: "bionic-updates", Config: config}
	recipe, err := ReadBTFRecipe(os.DirFS("../../images"), "btf.yaml")
	require.NoError(t, err)
	_, _, err = f.KernelBTF(context.Background(), k, "amd64", recipe)
	assert.ErrorContains(t, err, "BTF for linux-image-4.15.0-9-generic: the kernel has none (CONFIG_DEBUG_INFO_BTF is not set), "+
		"and Ubuntu's archive carries no debug packages")
	assert.ErrorContains(t, err, "give the target a btf: file")
	assert.ErrorIs(t, err, ErrNoBTF)
}
