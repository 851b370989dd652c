package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// debootstrapScript is shaped as debootstrap's Ubuntu script (gutsy, to
// which focal, jammy and their siblings link): old suites on one mirror,
// other arches on another.
const debootstrapScript = `case $ARCH in
  amd64|i386)
	case $SUITE in
	  gutsy|hardy|zesty)
	default_mirror http://old.example/ubuntu
	  ;;
	  *)
	default_mirror http://primary.example/ubuntu
	;;
	esac
	;;
  *)
	default_mirror http://ports.example/ubuntu-ports
	;;
esac
mirror_style release
keyring ` + UbuntuKeyring + `

case $SUITE in
	gutsy|hardy) ;;
esac
`

// scriptsDir lays out debootstrap's scripts: Debian's, and Ubuntu's one
// script with a suite's link to it.
func scriptsDir(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "debian-common"),
		[]byte("default_mirror http://debian.example/debian\nkeyring "+DefaultKeyring+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gutsy"), []byte(debootstrapScript), 0o644))
	require.NoError(t, os.Symlink("gutsy", filepath.Join(dir, "focal")))
	return dir
}

func TestScriptMirror(t *testing.T) {
	for _, c := range []struct{ arch, suite, want string }{
		{"amd64", "", "http://primary.example/ubuntu"},
		{"amd64", "noble", "http://primary.example/ubuntu"},
		{"i386", "hardy", "http://old.example/ubuntu"},
		{"arm64", "", "http://ports.example/ubuntu-ports"},
	} {
		assert.Equal(t, c.want, scriptMirror(debootstrapScript, map[string]string{"ARCH": c.arch, "SUITE": c.suite}), "%s %s", c.arch, c.suite)
	}
}

// Ubuntu's mirror: flag, environment, the host's apt sources where they
// list an Ubuntu suite (a Debian host's do not), then debootstrap's
// default; each says where it came from. Debian's discovery takes no
// Ubuntu entry, and Ubuntu's no Debian one.
func TestUbuntuMirrorDiscovery(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	debianHost := write("debian.sources", `Types: deb
URIs: http://deb.example/debian
Suites: bookworm bookworm-updates
Components: main
`)
	ubuntuHost := write("ubuntu.sources", `Types: deb
URIs: http://security.example/ubuntu/
Suites: noble-security
Components: main

Types: deb
URIs: http://mirror.example/ubuntu/
Suites: noble noble-updates noble-backports
Components: main universe
`)
	oneLine := write("sources.list", "deb [arch=amd64] http://old-style.example/ubuntu focal-updates main\n")
	scripts := scriptsDir(t)
	t.Setenv(UbuntuMirrorEnv, "")
	t.Setenv(MirrorEnv, "")

	m, from, err := Ubuntu.DiscoverMirror("", []string{debianHost, ubuntuHost}, scripts)
	require.NoError(t, err)
	assert.Equal(t, "http://mirror.example/ubuntu", m)
	assert.Equal(t, ubuntuHost, from)

	m, _, err = Ubuntu.DiscoverMirror("", []string{oneLine}, scripts)
	require.NoError(t, err)
	assert.Equal(t, "http://old-style.example/ubuntu", m)

	m, _, err = Debian.DiscoverMirror("", []string{ubuntuHost, debianHost}, scripts)
	require.NoError(t, err)
	assert.Equal(t, "http://deb.example/debian", m, "an Ubuntu entry is not Debian's mirror")

	m, from, err = Ubuntu.DiscoverMirror("", []string{debianHost}, scripts)
	require.NoError(t, err)
	assert.Equal(t, "http://primary.example/ubuntu", m, "debootstrap's default, for a current suite and amd64")
	assert.Equal(t, filepath.Join(scripts, "gutsy")+" (debootstrap's default)", from)

	_, _, err = Debian.DiscoverMirror("", nil, scripts)
	assert.ErrorIs(t, err, ErrNoMirror, "Debian's mirror is never guessed")

	_, _, err = Ubuntu.DiscoverMirror("", []string{debianHost}, t.TempDir())
	assert.ErrorIs(t, err, ErrNoMirror)
	assert.ErrorContains(t, err, "--ubuntu-mirror")
	assert.ErrorContains(t, err, UbuntuMirrorEnv)

	t.Setenv(UbuntuMirrorEnv, "http://env.example/ubuntu/")
	m, from, err = Ubuntu.DiscoverMirror("", []string{ubuntuHost}, scripts)
	require.NoError(t, err)
	assert.Equal(t, "http://env.example/ubuntu", m)
	assert.Equal(t, UbuntuMirrorEnv, from)

	m, from, err = Ubuntu.DiscoverMirror("http://flag.example/u", nil, "")
	require.NoError(t, err)
	assert.Equal(t, "http://flag.example/u", m)
	assert.Equal(t, "--ubuntu-mirror", from)
}

func TestDistroNamed(t *testing.T) {
	d, err := DistroNamed("")
	require.NoError(t, err)
	assert.Same(t, Debian, d)
	d, err = DistroNamed("ubuntu")
	require.NoError(t, err)
	assert.Same(t, Ubuntu, d)
	_, err = DistroNamed("fedora")
	assert.ErrorContains(t, err, `distro "fedora"`)

	assert.True(t, Ubuntu.OwnsSuite("focal-updates"))
	assert.False(t, Ubuntu.OwnsSuite("noble-security"))
	assert.False(t, Ubuntu.OwnsSuite("bookworm"))
	assert.True(t, Debian.OwnsSuite("bookworm-backports"))
}

// Ubuntu's pockets share their codename: focal-updates' InRelease says
// Codename: focal, and must not pass for focal's, nor focal's for
// focal-updates'.
func TestUbuntuPocketsAreTold(t *testing.T) {
	t.Parallel()
	m := archivetest.NewUbuntuMirror(t)
	m.Publish(t, "focal", "amd64", archivetest.UbuntuKernelPackages(t))
	m.Publish(t, "focal-updates", "amd64", archivetest.UbuntuKernelPackages(t))
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &archivetest.Log{})
	f.Distro = Ubuntu
	ctx := context.Background()
	rel, err := f.Release(ctx, "focal-updates")
	require.NoError(t, err)
	assert.Equal(t, "focal", rel.Suite)
	assert.Equal(t, "focal-updates", rel.Name())

	updates, plain := m.Get("dists/focal-updates/InRelease"), m.Get("dists/focal/InRelease")
	m.Set("dists/focal/InRelease", updates)
	_, err = testUbuntuFetcher(m, t).Release(ctx, "focal")
	assert.ErrorContains(t, err, "suite focal: the InRelease is that of focal-updates")
	m.Set("dists/focal/InRelease", plain)
	m.Set("dists/focal-updates/InRelease", plain)
	_, err = testUbuntuFetcher(m, t).Release(ctx, "focal-updates")
	assert.ErrorContains(t, err, "suite focal-updates: the InRelease is that of focal")
}

func testUbuntuFetcher(m *archivetest.Mirror, t *testing.T) *Fetcher {
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &archivetest.Log{})
	f.Distro = Ubuntu
	return f
}

// A Debian suite and an Ubuntu suite of the same name, on one cache, keep
// apart: each fetcher reads its own archive's index, offline too.
func TestDistrosShareNoCacheEntry(t *testing.T) {
	t.Parallel()
	deb, ubu := archivetest.NewMirror(t), archivetest.NewUbuntuMirror(t)
	deb.Publish(t, "jammy", "amd64", archivetest.KernelPackages(t))
	ubu.Publish(t, "jammy", "amd64", archivetest.UbuntuKernelPackages(t))
	dir := t.TempDir()
	var logs archivetest.Log
	debian := testFetcher(deb, &cache.Cache{Dir: dir}, &logs)
	ubuntu := testFetcher(ubu, &cache.Cache{Dir: dir}, &logs)
	ubuntu.Distro = Ubuntu
	debian.Other = func(d *Distro) (*Fetcher, error) { return ubuntu, nil }
	ctx := context.Background()

	got, err := debian.For(Ubuntu)
	require.NoError(t, err)
	assert.Same(t, ubuntu, got)
	got, err = debian.For(Debian)
	require.NoError(t, err)
	assert.Same(t, debian, got)
	_, err = ubuntu.For(Debian)
	assert.ErrorContains(t, err, "no fetcher of Debian's archive beside Ubuntu's")

	for round := range 2 {
		d, err := debian.Packages(ctx, "jammy", "amd64", "linux-image-")
		require.NoError(t, err)
		u, err := ubuntu.Packages(ctx, "jammy", "amd64", "linux-image-")
		require.NoError(t, err)
		_, err = FindPackage(d, archivetest.Kernel)
		assert.NoError(t, err, "round %d", round)
		_, err = FindPackage(u, archivetest.UbuntuKernel)
		assert.NoError(t, err, "round %d", round)
		_, err = FindPackage(u, archivetest.Kernel)
		assert.ErrorIs(t, err, ErrNoPackage, "round %d", round)
		if round == 0 {
			// Offline, from the cache only: new fetchers, mirrors gone.
			deb.Close()
			ubu.Close()
			debian, ubuntu = testFetcher(deb, &cache.Cache{Dir: dir}, &logs), testFetcher(ubu, &cache.Cache{Dir: dir}, &logs)
			ubuntu.Distro = Ubuntu
		}
	}
	assert.FileExists(t, filepath.Join(dir, "dists", "jammy", "InRelease"))
	assert.FileExists(t, filepath.Join(dir, "ubuntu", "dists", "jammy", "InRelease"))
}

// Ubuntu's kernel comes in two packages: the image's holds the vmlinuz,
// the modules' the config (and System.map, which is not read).
func TestExtractBootParts(t *testing.T) {
	pkgs := archivetest.UbuntuKernelPackages(t)
	image, modules := pkgs[1].Deb, pkgs[3].Deb

	b, err := ExtractBootParts(bytes.NewReader(image), BootVmlinuz)
	require.NoError(t, err)
	assert.Equal(t, "SIGNED KERNEL", string(b.Vmlinuz))
	assert.Equal(t, archivetest.UbuntuRelease, b.Release)
	assert.Nil(t, b.Config)

	b, err = ExtractBootParts(bytes.NewReader(modules), BootConfig)
	require.NoError(t, err)
	assert.Equal(t, archivetest.UbuntuConfig, string(b.Config))
	assert.Equal(t, archivetest.UbuntuRelease, b.ConfigRelease)
	assert.Nil(t, b.Vmlinuz)

	_, err = ExtractBoot(bytes.NewReader(image))
	assert.ErrorContains(t, err, "no /boot/config-*")
	_, err = ExtractBootParts(bytes.NewReader(modules), BootVmlinuz)
	assert.ErrorContains(t, err, "no /boot/vmlinuz-*")
}
