package guestbuild

import (
	"archive/tar"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/internal/vmtest"
)

func TestLibbpfVersions(t *testing.T) {
	assert.Equal(t, []string{"1.1", "1.5"}, LibbpfVersions())
}

// The arch table's libbpf versions are ones the builder knows.
func TestLibbpfVersionsOfArches(t *testing.T) {
	for _, a := range arch.All() {
		for _, v := range a.Libbpf {
			assert.Contains(t, LibbpfVersions(), v, a.Name)
		}
	}
}

// Where the arch table says Debian ships no libbpf version for an arch,
// Debian's archive agrees: the builder says it is unavailable, from the
// suite's signed release alone.
func TestLibbpfUnavailableArches(t *testing.T) {
	vmtest.Require(t, nil)
	f, _, err := archive.NewFetcher(archive.FetcherConfig{Logf: t.Logf})
	require.NoError(t, err)
	b := &LibbpfBuilder{Archive: func() (*archive.Fetcher, error) { return f, nil }, Cache: &cache.Cache{Dir: t.TempDir()}, Source: ksystest.GuestSource()}
	for _, a := range arch.All() {
		for _, v := range LibbpfVersions() {
			if slices.Contains(a.Libbpf, v) {
				continue
			}
			_, err := b.Path(context.Background(), v, a)
			var unavailable *LibbpfUnavailableError
			assert.ErrorAs(t, err, &unavailable, "libbpf %s on %s", v, a.Name)
			t.Logf("libbpf %s on %s: %v", v, a.Name, err)
		}
	}
}

// The loader's source is what an installed ksystest carries.
func TestLibbpfSourceCarried(t *testing.T) {
	files, _, err := source(ksystest.GuestSource(), libbpfDir)
	require.NoError(t, err)
	assert.Contains(t, files, libbpfMain)
	assert.Contains(t, files, euSearchShim)
}

func TestLibbpfUnknownVersion(t *testing.T) {
	b := &LibbpfBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: t.TempDir()},
		Archive: func() (*archive.Fetcher, error) { return nil, errors.New("asked the archive") }}
	_, err := b.Path(context.Background(), "1.3", hostArch(t))
	assert.EqualError(t, err, "libbpf 1.3: ksystest builds its loader with libbpf 1.1 or 1.5")
}

// fakeLibbpfSuites is a signed archive with a trixie (libelf needs zstd)
// for s390x, amd64 and armhf, and a bookworm (it does not) for s390x.
// trixie's libc6-dev has no file on the mirror: a 404, which its cross
// libc stands in for. (Versions have no epoch: the fake archive's pool
// names would keep it.)
func fakeLibbpfSuites(t *testing.T) (*archivetest.Mirror, *archive.Fetcher, *archivetest.Log) {
	m := archivetest.NewMirror(t)
	deb := func(files ...string) []byte {
		var entries []archivetest.TarEntry
		for _, f := range files {
			entries = append(entries, archivetest.TarEntry{Name: "./" + f, Body: f + "\n"})
		}
		return archivetest.BuildDeb(t, "xz", entries...)
	}
	trixie := []archivetest.Package{
		{Name: "libbpf-dev", Version: "1.5.0-3", Depends: "libbpf1 (= 1.5.0-3), libelf-dev, zlib1g-dev",
			Deb: deb("usr/include/bpf/libbpf.h", "usr/lib/s390x-linux-gnu/libbpf.a", "usr/share/doc/libbpf-dev/copyright")},
		{Name: "libelf-dev", Version: "0.192-4", Depends: "libelf1t64 (= 0.192-4), zlib1g-dev, libzstd-dev",
			Deb: deb("usr/include/libelf.h", "usr/lib/s390x-linux-gnu/libelf.a")},
		{Name: "libzstd-dev", Version: "1.5.7+dfsg-1", Deb: deb("usr/include/zstd.h", "usr/lib/s390x-linux-gnu/libzstd.a")},
		{Name: "zlib1g-dev", Version: "1.3.dfsg+really1.3.1-1+deb13u1", Deb: deb("usr/include/zlib.h", "usr/lib/s390x-linux-gnu/libz.a")},
		{Name: "libc6-dev", Version: "2.41-12+deb13u5"}, // listed, not served
		{Name: "libc6-dev-s390x-cross", Version: "2.41-11cross1",
			Deb: deb("usr/s390x-linux-gnu/include/stdio.h", "usr/s390x-linux-gnu/lib/libc.a", "usr/s390x-linux-gnu/lib/crt1.o")},
		{Name: "linux-libc-dev", Version: "6.12.117-1", Deb: archivetest.BuildDeb(t, "xz",
			archivetest.TarEntry{Name: "./usr/include/linux/bpf.h", Body: "bpf"},
			archivetest.TarEntry{Name: "./usr/include/s390x-linux-gnu/asm", Type: tar.TypeSymlink, Linkname: "../../lib/linux/uapi/s390/asm"},
			archivetest.TarEntry{Name: "./usr/lib/linux/uapi/s390/asm/types.h", Body: "s390"},
			archivetest.TarEntry{Name: "./usr/lib/linux/uapi/x86/asm/types.h", Body: "x86"})},
	}
	m.Publish(t, "trixie", "s390x", trixie)
	m.Publish(t, "trixie", "amd64", []archivetest.Package{{Name: "libbpf-dev", Version: "1.6.0-1"}})
	m.Publish(t, "trixie", "armhf", []archivetest.Package{{Name: "libbpf1", Version: "1.5.0-3"}})
	bookworm := []archivetest.Package{
		{Name: "libbpf-dev", Version: "1.1.2-0+deb12u1"},
		{Name: "libelf-dev", Version: "0.188-2.1", Depends: "libelf1 (= 0.188-2.1), zlib1g-dev"},
		{Name: "zlib1g-dev", Version: "1.2.13.dfsg-1", Deb: deb("usr/include/zlib.h", "usr/lib/s390x-linux-gnu/libz.a")},
		{Name: "libc6-dev", Version: "2.36-9+deb12u14"},
		{Name: "linux-libc-dev", Version: "6.1.176-1"},
	}
	m.Publish(t, "bookworm", "s390x", bookworm)
	var logs archivetest.Log
	f := &archive.Fetcher{Mirror: m.URL(), Keys: m.Keys(), Cache: &cache.Cache{Dir: t.TempDir()}, Logf: logs.Logf, Attempts: 1,
		Now: func() time.Time { return archivetest.Date.Add(time.Hour) }}
	return m, f, &logs
}

func TestLibbpfPackages(t *testing.T) {
	_, f, _ := fakeLibbpfSuites(t)
	ctx := context.Background()
	names := func(pkgs []archive.Package) []string {
		var out []string
		for _, p := range pkgs {
			out = append(out, p.Name+" "+p.Version)
		}
		return out
	}
	pkgs, err := libbpfPackages(ctx, f, "1.5", "trixie", "s390x")
	require.NoError(t, err)
	assert.Equal(t, []string{"libc6-dev 2.41-12+deb13u5", "linux-libc-dev 6.12.117-1", "zlib1g-dev 1.3.dfsg+really1.3.1-1+deb13u1",
		"libzstd-dev 1.5.7+dfsg-1", "libelf-dev 0.192-4", "libbpf-dev 1.5.0-3"}, names(pkgs), "libelf 0.192 needs zstd")

	pkgs, err = libbpfPackages(ctx, f, "1.1", "bookworm", "s390x")
	require.NoError(t, err)
	assert.Equal(t, []string{"libc6-dev 2.36-9+deb12u14", "linux-libc-dev 6.1.176-1", "zlib1g-dev 1.2.13.dfsg-1",
		"libelf-dev 0.188-2.1", "libbpf-dev 1.1.2-0+deb12u1"}, names(pkgs), "libelf 0.188 does not")

	// The suite moved on to another libbpf.
	_, err = libbpfPackages(ctx, f, "1.5", "trixie", "amd64")
	assert.EqualError(t, err, "libbpf 1.5: trixie's libbpf-dev is 1.6.0-1 now")
}

// A suite without the arch, or without libbpf-dev for it, is a
// *LibbpfUnavailableError saying so in one line, before any compiler is
// looked for.
func TestLibbpfUnavailable(t *testing.T) {
	_, f, _ := fakeLibbpfSuites(t)
	src := fstest.MapFS{libbpfDir + "/" + libbpfMain: {Data: []byte("int main(void) { return 0; }\n")}}
	b := &LibbpfBuilder{Source: src, Cache: &cache.Cache{Dir: t.TempDir()}, Archive: func() (*archive.Fetcher, error) { return f, nil }}
	for _, c := range []struct{ version, arch, want string }{
		{"1.5", "mips64el", "trixie has no libbpf-dev for mips64el"}, // no such index
		{"1.5", "arm", "trixie has no libbpf-dev for armhf"},         // libbpf1 only
		{"1.1", "riscv64", "bookworm has no libbpf-dev for riscv64"},
	} {
		a, err := arch.Lookup(c.arch)
		require.NoError(t, err)
		a.CrossCC = "ksystest-no-such-gcc"
		_, err = b.Path(context.Background(), c.version, a)
		var unavailable *LibbpfUnavailableError
		require.ErrorAs(t, err, &unavailable, c.arch)
		assert.EqualError(t, err, c.want)
		assert.Equal(t, c.version, unavailable.Version)
	}
}

// The sysroot holds the packages' headers and libraries where Debian puts
// them, and nothing else; trixie's libc6-dev, which the mirror lacks, is
// its cross libc moved into place, with a log line and a record of it.
func TestLibbpfSysroot(t *testing.T) {
	m, f, logs := fakeLibbpfSuites(t)
	ctx := context.Background()
	s390x, err := arch.Lookup("s390x")
	require.NoError(t, err)
	pkgs, err := libbpfPackages(ctx, f, "1.5", "trixie", "s390x")
	require.NoError(t, err)
	b := &LibbpfBuilder{Cache: &cache.Cache{Dir: t.TempDir()}, Logf: logs.Logf}
	sr, err := b.sysroot(ctx, f, "trixie", s390x, "s390x-linux-gnu", pkgs)
	require.NoError(t, err)
	var files []string
	require.NoError(t, filepath.WalkDir(sr, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(sr, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	}))
	assert.ElementsMatch(t, []string{
		"PACKAGES",
		"usr/include/bpf/libbpf.h", "usr/lib/s390x-linux-gnu/libbpf.a",
		"usr/include/libelf.h", "usr/lib/s390x-linux-gnu/libelf.a",
		"usr/include/zstd.h", "usr/lib/s390x-linux-gnu/libzstd.a",
		"usr/include/zlib.h", "usr/lib/s390x-linux-gnu/libz.a",
		"usr/include/stdio.h", "usr/lib/s390x-linux-gnu/libc.a", "usr/lib/s390x-linux-gnu/crt1.o",
		"usr/include/linux/bpf.h", "usr/lib/linux/uapi/s390/asm/types.h",
	}, files)
	record, err := os.ReadFile(filepath.Join(sr, "PACKAGES"))
	require.NoError(t, err)
	assert.Contains(t, string(record), "libc6-dev-s390x-cross 2.41-11cross1 sha256:")
	assert.NotContains(t, string(record), "libc6-dev 2.41")
	assert.Contains(t, logs.String(), "libc6-dev 2.41-12+deb13u5 for s390x: the mirror has no pool/main/l/libc6-dev/libc6-dev_2.41-12+deb13u5_amd64.deb (404): taking libc6-dev-s390x-cross 2.41-11cross1 instead")

	// Made once.
	requests := m.Requests()
	again, err := b.sysroot(ctx, f, "trixie", s390x, "s390x-linux-gnu", pkgs)
	require.NoError(t, err)
	assert.Equal(t, sr, again)
	assert.Equal(t, requests, m.Requests())
}

// zlib1g-dev missing from the mirror is bookworm's; a package with no
// stand-in is an error naming the file.
func TestLibbpfFallbacks(t *testing.T) {
	m, f, logs := fakeLibbpfSuites(t)
	ctx := context.Background()
	s390x, err := arch.Lookup("s390x")
	require.NoError(t, err)
	pkgs, err := libbpfPackages(ctx, f, "1.5", "trixie", "s390x")
	require.NoError(t, err)
	var zlib archive.Package
	for _, p := range pkgs {
		if p.Name == "zlib1g-dev" {
			zlib = p
		}
	}
	m.Fault(zlib.Filename, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	b := &LibbpfBuilder{Cache: &cache.Cache{Dir: t.TempDir()}, Logf: logs.Logf}
	sr, err := b.sysroot(ctx, f, "trixie", s390x, "s390x-linux-gnu", pkgs)
	require.NoError(t, err)
	record, err := os.ReadFile(filepath.Join(sr, "PACKAGES"))
	require.NoError(t, err)
	assert.Contains(t, string(record), "zlib1g-dev 1.2.13.dfsg-1 sha256:")
	assert.Contains(t, logs.String(), "taking zlib1g-dev 1.2.13.dfsg-1 instead")

	for i, p := range pkgs {
		if p.Name == "libzstd-dev" {
			pkgs[i].Filename = "pool/main/l/libzstd-dev/gone.deb"
		}
	}
	b = &LibbpfBuilder{Cache: &cache.Cache{Dir: t.TempDir()}, Logf: logs.Logf}
	_, err = b.sysroot(ctx, f, "trixie", s390x, "s390x-linux-gnu", pkgs)
	assert.ErrorContains(t, err, "libzstd-dev 1.5.7+dfsg-1 for s390x: the mirror has no pool/main/l/libzstd-dev/gone.deb")
}

func TestUpstreamVersion(t *testing.T) {
	for v, want := range map[string]string{
		"1:1.5.0-3":                        "1.5.0",
		"1:1.1.2-0+deb12u1":                "1.1.2",
		"2.41-11cross1":                    "2.41",
		"0.192":                            "0.192",
		"1:1.3.dfsg+really1.3.1-1+deb13u1": "1.3.dfsg+really1.3.1",
	} {
		assert.Equal(t, want, upstreamVersion(v), v)
	}
}

func TestDependsOn(t *testing.T) {
	p := archive.Package{Depends: "libelf1t64 (= 0.192-4), zlib1g-dev, libzstd-dev:any | libzstd-dev-alt"}
	for name, want := range map[string]bool{"libzstd-dev": true, "zlib1g-dev": true, "libelf1t64": true, "libzstd-dev-alt": true, "libzstd": false, "libelf1": false} {
		assert.Equal(t, want, dependsOn(p, name), name)
	}
}

// Whether libelf.a needs the eu-search shim is read from its objects: a
// call to a function no member defines.
func TestCallsUndefined(t *testing.T) {
	tc := requireToolchain(t, hostArch(t))
	dir := t.TempDir()
	sources := map[string]string{
		"calls.c":   "void eu_search_tree_init(void *);\nvoid f(void) { eu_search_tree_init(0); }\n",
		"defines.c": "void eu_search_tree_init(void *t) { (void)t; }\n",
		"other.c":   "int g(int x) { return x + 1; }\n",
	}
	for name, text := range sources {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
		out, err := exec.Command(tc.CC, "-c", "-o", filepath.Join(dir, strings.TrimSuffix(name, ".c")+".o"), filepath.Join(dir, name)).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	ar := func(lib string, objs ...string) string {
		p := filepath.Join(dir, lib)
		args := []string{"rcs", p}
		for _, o := range objs {
			args = append(args, filepath.Join(dir, o))
		}
		out, err := exec.Command("ar", args...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return p
	}
	for lib, want := range map[string]bool{
		ar("calls.a", "other.o", "calls.o"):             true,
		ar("both.a", "calls.o", "defines.o", "other.o"): false,
		ar("neither.a", "other.o"):                      false,
		ar("defines.a", "defines.o"):                    false,
	} {
		got, err := callsUndefined(lib, "eu_search_tree_init")
		require.NoError(t, err)
		assert.Equal(t, want, got, filepath.Base(lib))
	}
	_, err := callsUndefined(filepath.Join(dir, "calls.c"), "eu_search_tree_init")
	assert.ErrorContains(t, err, "not an ar archive")
}

// loaderResult is the loader's first line.
type loaderResult struct {
	Libbpf, Package, Error string
	Maps                   map[string]uint32
	Progs                  map[string]struct {
		ID      uint32
		Section string
	}
}

// The loader builds from the real archive for libbpf 1.5 on x86_64 and
// arm64 and 1.1 on x86_64: static, for the arch's machine, saying which
// Debian package it links, and the second time from the cache.
func TestLibbpfLoader(t *testing.T) {
	type build struct {
		version string
		arch    arch.Arch
	}
	var builds []build
	var compilers []string
	for _, c := range [][2]string{{"1.5", "x86_64"}, {"1.5", "arm64"}, {"1.1", "x86_64"}} {
		a, err := arch.Lookup(c[1])
		require.NoError(t, err)
		builds = append(builds, build{c[0], a})
		if !slices.Contains(compilers, a.CrossCC) {
			compilers = append(compilers, a.CrossCC)
		}
	}
	vmtest.Require(t, nil, compilers...)
	fetcher := func() (*archive.Fetcher, error) {
		f, _, err := archive.NewFetcher(archive.FetcherConfig{Logf: t.Logf})
		return f, err
	}
	f, err := fetcher()
	require.NoError(t, err)
	for _, c := range builds {
		t.Run(c.version+"/"+c.arch.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var built atomic.Int32
			store := &cache.Cache{Dir: t.TempDir()}
			logf := func(format string, args ...any) {
				if strings.HasPrefix(format, "building ") {
					built.Add(1)
				}
				t.Logf(format, args...)
			}
			b := &LibbpfBuilder{Archive: func() (*archive.Fetcher, error) { return f, nil }, Cache: store, Source: ksystest.GuestSource(), Logf: logf}
			start := time.Now()
			p, err := b.Path(ctx, c.version, c.arch)
			require.NoError(t, err)
			cold := time.Since(start)
			start = time.Now()
			again, err := b.Path(ctx, c.version, c.arch)
			require.NoError(t, err)
			warm := time.Since(start)
			assert.Equal(t, p, again)
			// A next run: another builder and another fetcher, the same
			// cache.
			start = time.Now()
			next := &LibbpfBuilder{Archive: fetcher, Cache: store, Source: ksystest.GuestSource(), Logf: logf}
			again, err = next.Path(ctx, c.version, c.arch)
			require.NoError(t, err)
			nextRun := time.Since(start)
			assert.Equal(t, p, again)
			assert.Equal(t, int32(1), built.Load(), "built once, then taken from the cache")

			elfFile, err := elf.Open(p)
			require.NoError(t, err)
			defer elfFile.Close()
			assert.Equal(t, c.arch.ELFMachine, elfFile.Machine)
			for _, prog := range elfFile.Progs {
				assert.NotEqual(t, elf.PT_INTERP, prog.Type, "static programs name no dynamic loader")
			}
			libs, err := elfFile.ImportedLibraries()
			require.NoError(t, err)
			assert.Empty(t, libs)
			info, err := os.Stat(p)
			require.NoError(t, err)
			t.Logf("ksystest-libbpf %s for %s: %d bytes; cold build %v, cached %v, next run %v", c.version, c.arch.Name,
				info.Size(), cold.Round(time.Millisecond), warm.Round(time.Millisecond), nextRun.Round(time.Millisecond))

			pkgs, err := f.Packages(ctx, libbpfSuites[c.version], c.arch.DebianArch, "libbpf-dev")
			require.NoError(t, err)
			libbpf, err := archive.FindPackage(pkgs, "libbpf-dev")
			require.NoError(t, err)
			pkg := "libbpf-dev " + libbpf.Version

			argv := append(runner(t, c.arch), p, "--version")
			out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
			require.NoError(t, err)
			assert.Equal(t, "ksystest-libbpf: libbpf "+c.version+", "+pkg+"\n", string(out))

			missing := filepath.Join(t.TempDir(), "missing.o")
			argv = append(runner(t, c.arch), p, missing)
			out, err = exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			assert.Equal(t, 1, exit.ExitCode(), "%s", exit.Stderr)
			first, _, _ := strings.Cut(string(out), "\n")
			var res loaderResult
			require.NoError(t, json.Unmarshal([]byte(first), &res), first)
			assert.Equal(t, c.version, res.Libbpf)
			assert.Equal(t, pkg, res.Package)
			assert.Equal(t, "open: No such file or directory: elf: failed to open "+missing+": No such file or directory", res.Error)
			assert.Empty(t, res.Maps)
			assert.Empty(t, res.Progs)

			if c.arch.Native() && c.arch.Name == "x86_64" {
				t.Run("deny-kprobe", func(t *testing.T) { testDenyKprobe(t, p, c.arch) })
			}
		})
	}
}

// testDenyKprobe loads ksystest's probes with the loader at p on this
// host, in a mount namespace whose sysfs shows the kprobe interface a
// test wants: a tracefs whose kprobe_events takes any line (libbpf's
// legacy kprobes), or a kprobe PMU the kernel does not have. Denying
// __x64_sys_bpf turns libbpf's LINUX_HAS_SYSCALL_WRAPPER from 1 to 0 on
// the first, and is refused on the second.
func testDenyKprobe(t *testing.T, loader string, a arch.Arch) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a mount namespace, and loading BPF")
	}
	obj, err := ksystest.Data.ReadFile("bpf/obj/probes_" + a.BPF.Suffix() + ".o")
	require.NoError(t, err)
	objPath := filepath.Join(t.TempDir(), "probes.o")
	require.NoError(t, os.WriteFile(objPath, obj, 0o644))
	const (
		hide   = "mount -t tmpfs none /sys/bus/event_source/devices && mount -t tmpfs none /sys/kernel/debug"
		legacy = hide + " && mount -t tmpfs none /sys/kernel/tracing && : > /sys/kernel/tracing/kprobe_events"
		pmu    = hide + " && mkdir /sys/bus/event_source/devices/kprobe && echo 4242 > /sys/bus/event_source/devices/kprobe/type"
	)
	for _, c := range []struct {
		name, setup string
		deny        bool
		want        []string
	}{
		{"legacy", legacy, false, []string{"'LINUX_HAS_SYSCALL_WRAPPER': set to 0x1"}},
		{"legacy denied", legacy, true, []string{"refused a kprobe on __x64_sys_bpf (kprobe_events)", "'LINUX_HAS_SYSCALL_WRAPPER': set to 0x0"}},
		{"pmu denied", pmu, true, []string{"refused a kprobe on __x64_sys_bpf (perf_event_open)", "'LINUX_HAS_SYSCALL_WRAPPER': set to 0x0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"-c", c.setup + ` && exec "$0" "$@"`, loader}
			if c.deny {
				args = append(args, "--deny-kprobe", "__x64_sys_bpf")
			}
			cmd := exec.Command("sh", append(args, objPath)...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if errors.Is(err, syscall.EPERM) {
				t.Skip("making a mount namespace needs CAP_SYS_ADMIN")
			}
			require.NoError(t, err, "%s", stderr.String())
			var res loaderResult
			line, _, _ := strings.Cut(string(out), "\n")
			require.NoError(t, json.Unmarshal([]byte(line), &res), line)
			require.Empty(t, res.Error)
			assert.Contains(t, res.Progs, "ksys_write")
			for _, w := range c.want {
				assert.Contains(t, stderr.String(), w)
			}
			if !c.deny {
				assert.NotContains(t, stderr.String(), "refused")
			}
		})
	}
}

// findLLD takes the newest ld.lld of LLVM MinLLD or newer, by what each
// says it is, and refuses older ones (lld 17 does not know trixie's
// riscv64 relocations) by name: a missing one makes the riscv64 loader
// unavailable on this host, saying what to install.
func TestFindLLD(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no ld.lld on PATH
	dir := t.TempDir()
	lld := func(n int, says string) {
		p := filepath.Join(dir, "llvm-"+strconv.Itoa(n), "bin", "ld.lld")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho '"+says+"'\n"), 0o755))
	}
	glob := filepath.Join(dir, "llvm-*", "bin", "ld.lld")
	ctx := context.Background()

	_, err := findLLD(ctx, glob)
	assert.EqualError(t, err, "no ld.lld of LLVM 18 or newer: binutils 2.40's ld crashes on its relocations, older lld does not know them (apt-get install lld-19, or lld where it is 18 or newer)")

	lld(14, "Debian LLD 14.0.6 (compatible with GNU linkers)")
	lld(17, "Ubuntu LLD 17.0.6 (compatible with GNU linkers)")
	_, err = findLLD(ctx, glob)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "(found "+filepath.Join(dir, "llvm-17/bin/ld.lld")+": Ubuntu LLD 17.0.6 (compatible with GNU linkers); "+
		filepath.Join(dir, "llvm-14/bin/ld.lld")+": Debian LLD 14.0.6 (compatible with GNU linkers))")

	lld(18, "Ubuntu LLD 18.1.3 (compatible with GNU linkers)")
	got, err := findLLD(ctx, glob)
	require.NoError(t, err)
	assert.Equal(t, linker{dir: filepath.Join(dir, "llvm-18", "bin"), version: "Ubuntu LLD 18.1.3 (compatible with GNU linkers)"}, got)

	lld(19, "Debian LLD 19.1.7 (compatible with GNU linkers)")
	got, err = findLLD(ctx, glob)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "llvm-19", "bin"), got.dir, "the newest")

	// Else the one on PATH, if it is new enough.
	path := os.Getenv("PATH")
	require.NoError(t, os.WriteFile(filepath.Join(path, "ld.lld"), []byte("#!/bin/sh\necho 'LLD 20.1.2 (compatible with GNU linkers)'\n"), 0o755))
	got, err = findLLD(ctx, filepath.Join(t.TempDir(), "llvm-*", "bin", "ld.lld"))
	require.NoError(t, err)
	assert.Equal(t, path, got.dir)
}
