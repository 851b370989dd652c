package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/proto"
)

func TestBindsKeepTheGuestsOwn(t *testing.T) {
	dir := t.TempDir()
	var b binds
	for _, guest := range []string{"/", "/proc", "/lib", "/ksystest", "/bin"} {
		assert.ErrorContains(t, b.add(dir, guest), "the guest keeps", guest)
	}
	for _, guest := range []string{"/bin/bash", "/lib/x86_64-linux-gnu", "/usr", "/home/me/src"} {
		assert.NoError(t, b.add(dir, guest), guest)
	}
	require.NoError(t, b.add(dir, "/usr"), "the same guest path twice is one bind")
	assert.Len(t, b.list, 4)
	assert.True(t, b.covers("/home/me/src/pkg/x.test"))
	assert.False(t, b.covers("/home/me/srcx"))
	assert.ErrorIs(t, b.add(filepath.Join(dir, "missing"), "/missing"), os.ErrNotExist)
	// The guest is told its binds in JSON: a path that is not UTF-8 would
	// reach it as another path.
	latin1 := filepath.Join(dir, "caf\xe9")
	require.NoError(t, os.Mkdir(latin1, 0o755))
	assert.ErrorContains(t, b.add(latin1, latin1), "not UTF-8")

	for len(b.list) < proto.MaxBinds {
		require.NoError(t, b.add(dir, "/many/"+string(rune('a'+len(b.list)))))
	}
	assert.ErrorContains(t, b.add(dir, "/one/more"), "more than")
}

func TestModuleRoot(t *testing.T) {
	root := t.TempDir()
	pkg := filepath.Join(root, "link", "internal")
	require.NoError(t, os.MkdirAll(pkg, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644))
	assert.Equal(t, root, moduleRoot(pkg))
	assert.Equal(t, root, moduleRoot(root))
}

func guestPaths(binds []proto.Bind) map[string]string {
	m := map[string]string{}
	for _, b := range binds {
		m[b.Guest] = b.Host
	}
	return m
}

// A guest of another arch is shown the module root, the shares, its own
// arch's bash with the host's cross C library for it and libtinfo, and a
// Go toolchain of its arch at the host's GOROOT; never the host's /usr
// or bash.
func TestExecBindsForeignArch(t *testing.T) {
	arm64 := mustArch(t, "arm64")
	if hostRuns(arm64) {
		t.Skip("the host is arm64")
	}
	root := t.TempDir()
	pkg := filepath.Join(root, "link")
	share := t.TempDir()
	require.NoError(t, os.MkdirAll(pkg, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644))
	prog := filepath.Join(pkg, "link.test")
	fakeELF(t, prog, arm64, "")

	bashDir := t.TempDir()
	fakeELF(t, filepath.Join(bashDir, "bash"), arm64, "/lib/ld-linux-aarch64.so.1")
	require.NoError(t, os.MkdirAll(filepath.Join(bashDir, "lib"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(bashDir, "libc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bashDir, "libc", "ld-linux-aarch64.so.1"), nil, 0o755))
	cross := t.TempDir()
	crossLib := filepath.Join(cross, "aarch64-linux-gnu", "lib")
	require.NoError(t, os.MkdirAll(crossLib, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(crossLib, "ld-linux-aarch64.so.1"), nil, 0o755))
	old := crossRoot
	crossRoot = cross
	t.Cleanup(func() { crossRoot = old })
	goroot := t.TempDir()

	p, err := ReadProgram(prog)
	require.NoError(t, err)
	user := &archive.Userland{Bash: bashDir}
	binds, err := execBinds(context.Background(), pkg, []string{share}, p, arm64, user, goroot)
	require.NoError(t, err)
	got := guestPaths(binds)
	real := func(p string) string { r, err := filepath.EvalSymlinks(p); require.NoError(t, err); return r }
	assert.Equal(t, real(root), got[root], "the module root, at its own path")
	assert.Equal(t, real(share), got[share])
	assert.NotContains(t, got, prog, "the program is below the module root")
	assert.Equal(t, real(filepath.Join(bashDir, "bash")), got["/bin/bash"])
	assert.Equal(t, real(filepath.Join(bashDir, "libc", "ld-linux-aarch64.so.1")), got["/lib/ld-linux-aarch64.so.1"],
		"a static program: bash with the C library of its own suite")
	assert.Equal(t, real(filepath.Join(bashDir, "libc")), got["/lib/aarch64-linux-gnu"])
	assert.Equal(t, real(filepath.Join(bashDir, "lib")), got["/usr/lib/aarch64-linux-gnu"])
	assert.NotContains(t, got, "/usr", "the host's programs are another arch's")
	if dirs := goDirs(); dirs != nil {
		assert.Equal(t, real(goroot), got[dirs[0]], "a toolchain of the guest's arch at GOROOT")
		if cache := hostGoCache(); cache != "" {
			assert.Equal(t, real(cache), got[proto.HostGoCache], "the host's build cache behind the guest's")
		}
		assert.Equal(t, real(dirs[1]), got[dirs[1]], "the module cache")
	}

	// No toolchain of its arch: the host's GOROOT is not shown.
	binds, err = execBinds(context.Background(), pkg, nil, p, arm64, nil, "")
	require.NoError(t, err)
	got = guestPaths(binds)
	assert.NotContains(t, got, "/bin/bash")
	if dirs := goDirs(); dirs != nil {
		assert.NotContains(t, got, dirs[0])
	}

	// A dynamic program of that arch: the host's cross C library, which
	// bash then shares.
	dyn := filepath.Join(pkg, "dyn")
	fakeELF(t, dyn, arm64, "/lib/ld-linux-aarch64.so.1")
	p, err = ReadProgram(dyn)
	require.NoError(t, err)
	binds, err = execBinds(context.Background(), pkg, nil, p, arm64, user, "")
	require.NoError(t, err)
	got = guestPaths(binds)
	assert.Equal(t, real(filepath.Join(crossLib, "ld-linux-aarch64.so.1")), got["/lib/ld-linux-aarch64.so.1"])
	assert.Equal(t, real(crossLib), got["/lib/aarch64-linux-gnu"])
	assert.Equal(t, real(filepath.Join(bashDir, "bash")), got["/bin/bash"])

	// With clang: LLVM's directory where Debian has it, and its
	// libraries, which hold bash's, at /usr/lib/TRIPLET.
	clangDir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(clangDir, "llvm", "bin"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(clangDir, "lib"), 0o755))
	user.Clang = &archive.Clang{Dir: clangDir, Major: "14"}
	binds, err = execBinds(context.Background(), pkg, nil, p, arm64, user, "")
	require.NoError(t, err)
	got = guestPaths(binds)
	assert.Equal(t, real(filepath.Join(bashDir, "lib")), got["/usr/lib/aarch64-linux-gnu"], "a damaged clang without bash's libtinfo: bash's own")
	assert.NotContains(t, got, "/usr/lib/llvm-14")
	require.NoError(t, os.WriteFile(filepath.Join(clangDir, "lib", "libtinfo.so.6"), nil, 0o644))
	binds, err = execBinds(context.Background(), pkg, nil, p, arm64, user, "")
	require.NoError(t, err)
	got = guestPaths(binds)
	assert.Equal(t, real(filepath.Join(clangDir, "llvm")), got["/usr/lib/llvm-14"])
	assert.Equal(t, real(filepath.Join(clangDir, "lib")), got["/usr/lib/aarch64-linux-gnu"])
	assert.Equal(t, real(filepath.Join(bashDir, "bash")), got["/bin/bash"])

	// ... and without it.
	crossRoot = t.TempDir()
	_, err = execBinds(context.Background(), pkg, nil, p, arm64, nil, "")
	assert.ErrorContains(t, err, "is dynamically linked: it asks for /lib/ld-linux-aarch64.so.1")
	assert.ErrorContains(t, err, "install libc6-arm64-cross, or build it static")
}

// The host's arch: its /usr, its bash with what ldd says it loads, the Go
// toolchain and module cache at their own paths.
func TestExecBindsHostArch(t *testing.T) {
	host, err := ReadProgram("/proc/self/exe")
	require.NoError(t, err)
	dir := t.TempDir()
	prog := filepath.Join(dir, "x.test")
	fakeELF(t, prog, host.Arch, "")
	p, err := ReadProgram(prog)
	require.NoError(t, err)
	list, err := execBinds(context.Background(), dir, nil, p, host.Arch, nil, "")
	require.NoError(t, err)
	got := guestPaths(list)
	assert.Contains(t, got, "/usr")
	assert.Contains(t, got, dir)
	if _, err := os.Stat("/bin/bash"); err == nil {
		assert.Contains(t, got, "/bin/bash")
	}
	if dirs := goDirs(); dirs != nil {
		for _, d := range dirs {
			assert.True(t, (&binds{list: list}).covers(d), d)
		}
	}
}

// Run from /tmp, a directory the guest has of its own: the program is
// shown, the directory is the guest's.
func TestExecBindsFromGuestsOwnDir(t *testing.T) {
	host, err := ReadProgram("/proc/self/exe")
	require.NoError(t, err)
	dir, err := os.MkdirTemp("/tmp", "ksystest-bindtest-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	prog := filepath.Join(dir, "x")
	fakeELF(t, prog, host.Arch, "")
	p, err := ReadProgram(prog)
	require.NoError(t, err)
	list, err := execBinds(context.Background(), "/tmp", nil, p, host.Arch, nil, "")
	require.NoError(t, err)
	got := guestPaths(list)
	assert.NotContains(t, got, "/tmp")
	assert.Contains(t, got, prog)
}

func TestWithHostPath(t *testing.T) {
	t.Setenv("PATH", "/usr/local/go/bin:/opt/tools/bin:relative:/usr/bin")
	env := withHostPath([]string{"HOME=/", "PATH=/bin:/usr/bin"}, []proto.Bind{{Host: "/usr/local/go", Guest: "/usr/local/go"}})
	assert.Equal(t, []string{"HOME=/", "PATH=/bin:/usr/bin:/usr/local/go/bin"}, env)
}

// A toolchain the proxy said it does not have is not asked for again
// within a day; a program that is not Go needs none.
func TestGoToolchainNotServed(t *testing.T) {
	arm64 := mustArch(t, "arm64")
	marker := filepath.Join(t.TempDir(), "go-not-served")
	require.NoError(t, os.WriteFile(marker, []byte("not available\n"), 0o644))
	notServed := func(version string) string {
		assert.Regexp(t, `^v0\.0\.1-go1\.[0-9.]+\.linux-arm64$`, version)
		return marker
	}
	self, err := os.Executable()
	require.NoError(t, err)
	_, err = goToolchain(context.Background(), self, arm64, notServed)
	assert.ErrorContains(t, err, "the module proxy said it has none")

	notGo := filepath.Join(t.TempDir(), "prog")
	fakeELF(t, notGo, arm64, "")
	dir, err := goToolchain(context.Background(), notGo, arm64, notServed)
	assert.NoError(t, err)
	assert.Empty(t, dir)
}

// A work line past what the guest's init reads is refused before any
// guest starts, with what to do.
func TestCheckWork(t *testing.T) {
	assert.NoError(t, checkWork([]proto.Bind{{Host: "/home/me/src", Guest: "/home/me/src"}}))
	var many []proto.Bind
	for i := range proto.MaxBinds {
		p := "/" + strings.Repeat("d", 120) + fmt.Sprint(i)
		many = append(many, proto.Bind{Host: p, Guest: p})
	}
	assert.ErrorContains(t, checkWork(many), "show it fewer or shorter host paths")
}
