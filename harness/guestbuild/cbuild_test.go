package guestbuild

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/internal/vmtest"
)

// Compiling needs gcc and static glibc for each arch, and running another
// arch's program needs qemu-user. Locally a test skips, with the reason,
// when they are missing; under CI=true it fails, since .ci/install-deps
// installs them all.
func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	vmtest.Missing(t, reason)
}

func requireToolchain(t testing.TB, a arch.Arch) *Toolchain {
	t.Helper()
	tc, err := FindToolchain(context.Background(), a)
	var missing *MissingToolchainError
	if errors.As(err, &missing) {
		skipOrFail(t, err.Error())
	}
	require.NoError(t, err)
	return tc
}

func hostArch(t testing.TB) arch.Arch {
	a, err := arch.ByGOARCH(runtime.GOARCH)
	if err != nil {
		t.Skip(err.Error())
	}
	return a
}

// runner returns how to run a's programs here: directly on a's own host,
// else under qemu-user emulating the guest's CPU, so that a compiler
// defaulting to instructions the guest lacks is caught here. A guest CPU
// without an FPU (the table builds Go soft-float for it) is the exception:
// qemu-user has no FPU emulator, the guest kernel does, so its default CPU
// stands in.
func runner(t testing.TB, a arch.Arch) []string {
	t.Helper()
	if a.Native() {
		return nil
	}
	for _, q := range []string{a.QEMUUser + "-static", a.QEMUUser} {
		if p, err := exec.LookPath(q); err == nil {
			if a.Go.GOMIPS64 == "softfloat" || a.Go.GOMIPS == "softfloat" {
				return []string{p}
			}
			return []string{p, "-cpu", a.CPU}
		}
	}
	skipOrFail(t, "running "+a.Name+" programs needs "+a.QEMUUser+" (package qemu-user-static)")
	return nil
}

// clientSteps is what the client prints, step by step.
var clientSteps = []*regexp.Regexp{
	regexp.MustCompile(`^open: .*/ksystest-client\.\d+, fd \d+$`),
	regexp.MustCompile(`^write: 16 bytes at offset 0, 12 at \d+$`),
	regexp.MustCompile(`^mmap: anonymous, \d+ bytes$`),
	regexp.MustCompile(`^mmap: fd \d+, (\d+) bytes at offset (\d+)$`),
	regexp.MustCompile(`^listen: 127\.0\.0\.1:\d+, fd \d+$`),
	regexp.MustCompile(`^connect: fd \d+ to 127\.0\.0\.1:\d+$`),
	regexp.MustCompile(`^accept: fd \d+$`),
	regexp.MustCompile(`^tcp: wrote and read 4 bytes$`),
	regexp.MustCompile(`^fork: child \d+ exited 0$`),
	regexp.MustCompile(`^thread: running$`),
	regexp.MustCompile(`^thread: joined$`),
	regexp.MustCompile(`^done$`),
}

// The client builds static for every arch, for that arch's machine, and
// runs to the end: natively on the host's arch, under qemu-user on the
// others.
func TestClient(t *testing.T) {
	for _, a := range arch.All() {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			requireToolchain(t, a)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			b := &CBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: t.TempDir()}}
			start := time.Now()
			p, err := b.Path(ctx, Client, a)
			require.NoError(t, err)
			cold := time.Since(start)
			start = time.Now()
			again, err := b.Path(ctx, Client, a)
			require.NoError(t, err)
			warm := time.Since(start)
			assert.Equal(t, p, again)

			// Checked here apart from CheckProgram, which Path ran.
			f, err := elf.Open(p)
			require.NoError(t, err)
			defer f.Close()
			assert.Equal(t, a.ELFMachine, f.Machine)
			assert.Equal(t, a.ELFClass, f.Class)
			assert.Equal(t, a.ELFData, f.Data)
			for _, prog := range f.Progs {
				assert.NotEqual(t, elf.PT_INTERP, prog.Type, "static programs name no dynamic loader")
			}
			libs, err := f.ImportedLibraries()
			require.NoError(t, err)
			assert.Empty(t, libs)
			info, err := os.Stat(p)
			require.NoError(t, err)
			t.Logf("%s: %d bytes, cold build %v, cached %v", a.Name, info.Size(), cold.Round(time.Millisecond), warm.Round(time.Millisecond))

			argv := append(runner(t, a), p)
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
			out, err := cmd.Output()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Fatalf("client on %s: %v: %s", a.Name, err, exit.Stderr)
			}
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			require.Len(t, lines, len(clientSteps), "%s", out)
			for i, re := range clientSteps {
				assert.Regexp(t, re, lines[i])
			}
			// The file mapping's offset is not zero: one page.
			m := clientSteps[3].FindStringSubmatch(lines[3])
			require.NotNil(t, m)
			assert.Equal(t, m[1], m[2])
			assert.NotEqual(t, "0", m[2])
		})
	}
}

// The client compiles without a warning from the host's gcc.
func TestClientWarnings(t *testing.T) {
	host := hostArch(t)
	tc := requireToolchain(t, host)
	cmd := exec.Command(tc.CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "client.c")
	cmd.Dir = filepath.Join("..", "..", filepath.FromSlash(Client))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// An entry is made once for a source, compiler, libc and flags; another
// source is another entry, and a Builder sharing the cache builds nothing.
func TestCache(t *testing.T) {
	host := hostArch(t)
	requireToolchain(t, host)
	ctx := context.Background()
	cache := &cache.Cache{Dir: t.TempDir()}
	var compiles atomic.Int32
	logf := func(format string, args ...any) { compiles.Add(1) }
	src := fstest.MapFS{
		"w/main.c": {Data: []byte("#include \"w.h\"\nint main(void) { return W; }\n")},
		"w/w.h":    {Data: []byte("#define W 0\n")},
		"w/README": {Data: []byte("not source\n")},
	}
	b := &CBuilder{Source: src, Cache: cache, Logf: logf}
	first, err := b.Path(ctx, "w", host)
	require.NoError(t, err)
	again, err := b.Path(ctx, "w", host)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Equal(t, int32(1), compiles.Load())
	assert.Equal(t, "w."+host.Name, filepath.Base(first))

	other := &CBuilder{Source: src, Cache: cache, Logf: logf}
	_, err = other.Path(ctx, "w", host)
	require.NoError(t, err)
	assert.Equal(t, int32(1), compiles.Load(), "a second Builder finds the entry")

	src["w/README"] = &fstest.MapFile{Data: []byte("changed, and not source\n")}
	b = &CBuilder{Source: src, Cache: cache, Logf: logf}
	same, err := b.Path(ctx, "w", host)
	require.NoError(t, err)
	assert.Equal(t, first, same, "only .c and .h files are source")

	src["w/w.h"] = &fstest.MapFile{Data: []byte("#define W 0 /* changed */\n")}
	b = &CBuilder{Source: src, Cache: cache, Logf: logf}
	changed, err := b.Path(ctx, "w", host)
	require.NoError(t, err)
	assert.NotEqual(t, first, changed)
	assert.Equal(t, int32(2), compiles.Load())
}

func TestCompileError(t *testing.T) {
	host := hostArch(t)
	requireToolchain(t, host)
	src := fstest.MapFS{"bad/bad.c": {Data: []byte("int main(void) { return undeclared; }\n")}}
	b := &CBuilder{Source: src, Cache: &cache.Cache{Dir: t.TempDir()}}
	_, err := b.Path(context.Background(), "bad", host)
	require.ErrorContains(t, err, "build bad for "+host.Name+": ")
	require.ErrorContains(t, err, "'undeclared' undeclared")
}

func TestSourceErrors(t *testing.T) {
	src := fstest.MapFS{"empty/README": {Data: []byte("no C here\n")}}
	b := &CBuilder{Source: src, Cache: &cache.Cache{Dir: t.TempDir()}}
	a := hostArch(t)
	_, err := b.Path(context.Background(), "empty", a)
	require.EqualError(t, err, "workload empty: no .c files")
	_, err = b.Path(context.Background(), "nowhere", a)
	require.ErrorContains(t, err, "workload nowhere: open nowhere: file does not exist")
}

// fakeCC puts an executable script named name on PATH. Tests using it
// cannot run in parallel.
func fakeCC(t *testing.T, name, script string) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// foreign is an arch that is not this host's, with its own compiler name.
func foreign(t *testing.T, cc string) arch.Arch {
	a, err := arch.Lookup("s390x")
	require.NoError(t, err)
	if a.Native() {
		a, err = arch.Lookup("riscv64")
		require.NoError(t, err)
	}
	a.CrossCC = cc
	return a
}

func TestMissingCompiler(t *testing.T) {
	a := foreign(t, "ksystest-no-such-gcc")
	_, err := FindToolchain(context.Background(), a)
	var missing *MissingToolchainError
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, []string{a.CrossCCPackage, a.CrossLibcPackage}, missing.Packages)
	assert.EqualError(t, err, "no C toolchain for "+a.Name+": no ksystest-no-such-gcc on PATH (apt-get install "+
		a.CrossCCPackage+" "+a.CrossLibcPackage+")")

	// Path says the same.
	b := &CBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: t.TempDir()}}
	_, err = b.Path(context.Background(), Client, a)
	require.ErrorAs(t, err, &missing)
}

func TestMissingLibc(t *testing.T) {
	fakeCC(t, "ksystest-fake-gcc", `case "$1" in
--version) echo "ksystest-fake-gcc (Fake) 1.0";;
-print-file-name=*) echo "${1#-print-file-name=}";;
esac
`)
	a := foreign(t, "ksystest-fake-gcc")
	_, err := FindToolchain(context.Background(), a)
	var missing *MissingToolchainError
	require.ErrorAs(t, err, &missing)
	assert.EqualError(t, err, "no C toolchain for "+a.Name+": ksystest-fake-gcc finds no static libc.a (apt-get install "+a.CrossLibcPackage+")")
}

// A compiler that builds for another machine than the arch's (here the
// host's gcc posing as a cross one) is caught before a guest boots it.
func TestWrongMachine(t *testing.T) {
	host := hostArch(t)
	tc := requireToolchain(t, host)
	fakeCC(t, "ksystest-posing-gcc", `exec "`+tc.CC+`" "$@"`+"\n")
	a := foreign(t, "ksystest-posing-gcc")
	b := &CBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: t.TempDir()}}
	_, err := b.Path(context.Background(), Client, a)
	require.ErrorContains(t, err, "build workloads/client for "+a.Name+": ")
	require.ErrorContains(t, err, "ksystest-posing-gcc: built for "+host.ELFMachine.String())
}

func TestToolchainVersion(t *testing.T) {
	tc := requireToolchain(t, hostArch(t))
	assert.NotContains(t, tc.Version, "\n")
	assert.Contains(t, tc.Version, "gcc")
	assert.True(t, filepath.IsAbs(tc.Libc), tc.Libc)
	assert.Len(t, tc.LibcHash, 64)
}

// .ci/install-deps installs every arch's toolchain, as the table names it.
func TestInstallDeps(t *testing.T) {
	f, err := os.Open("../../.ci/install-deps")
	require.NoError(t, err)
	defer f.Close()
	lines := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines[strings.Trim(strings.TrimSpace(s.Text()), `"`)] = true
	}
	require.NoError(t, s.Err())
	for _, a := range arch.All() {
		want := strings.Join([]string{a.DebianArch, a.CrossCC, a.CrossCCPackage, a.CrossLibcPackage}, " ")
		assert.True(t, lines[want], "install-deps lacks the line %q", want)
	}
	assert.True(t, lines[`need+=("qemu-aarch64-static qemu-user-static")`], "install-deps installs qemu-user-static")
}

// BenchmarkClientCold compiles the client from an empty cache, per arch:
// go test -bench ClientCold -run - ./harness/guestbuild
func BenchmarkClientCold(b *testing.B) {
	for _, a := range arch.All() {
		b.Run(a.Name, func(b *testing.B) {
			requireToolchain(b, a)
			for b.Loop() {
				wb := &CBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: b.TempDir()}}
				_, err := wb.Path(context.Background(), Client, a)
				require.NoError(b, err)
			}
		})
	}
}
