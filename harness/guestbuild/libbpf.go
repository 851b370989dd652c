package guestbuild

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
)

// libbpfDir is the directory of ksystest-libbpf's C source: the loader that
// links libbpf as a Debian suite ships it (LibbpfBuilder.Path builds it).
const libbpfDir = "cmd/ksystest-libbpf"

// The loader's translation units: the program, and the functions
// elfutils 0.192's libelf.a calls but leaves out (linked only where the
// suite's libelf.a needs them).
const (
	libbpfMain   = "ksystest-libbpf.c"
	euSearchShim = "eu-search-shim.c"
)

// libbpfSuites maps each libbpf version ksystest builds its loader with
// (upstream major.minor) to the Debian suite whose libbpf-dev ships it.
var libbpfSuites = map[string]string{
	"1.1": "bookworm", // libbpf-dev 1:1.1.2-0+deb12u1
	"1.5": "trixie",   // libbpf-dev 1:1.5.0-3
}

// lldArches are the Debian arches, per suite, whose C library the
// binutils of Debian 12 cannot link: trixie's riscv64 glibc (built with
// gcc 14 and binutils 2.44) carries R_RISCV_SET_ULEB128/SUB_ULEB128
// relocations, on which riscv64-linux-gnu-ld 2.40 crashes. LLVM's lld
// links them from version MinLLD.
var lldArches = map[string][]string{"trixie": {"riscv64"}}

// MinLLD is the oldest LLVM whose ld.lld links what lldArches name: lld
// 18 knows R_RISCV_SET_ULEB128/SUB_ULEB128 (llvm-project#72610, #77261);
// lld 17 calls them unknown relocations (60 and 61), and so does 14,
// Debian 12's and Ubuntu 22.04's default. .ci/install-deps installs one.
const MinLLD = 18

// libbpfFlags are how every loader is compiled and linked, besides the
// paths into its sysroot: static and stripped, since a guest has no C
// library; only the suite's headers (-nostdinc: Debian's cross gcc
// searches the host's own cross libc headers before any sysroot); and
// the libc functions through which libbpf creates kprobes wrapped, for
// the loader's --deny-kprobe.
var libbpfFlags = []string{
	"-std=gnu11", "-O2", "-Wall", "-Wextra", "-static", "-s", "-nostdinc",
	"-Wl,--wrap=syscall,--wrap=write,--wrap=__vdprintf_chk",
}

// LibbpfVersions are the libbpf versions LibbpfBuilder builds the loader
// with, oldest first.
func LibbpfVersions() []string {
	var out []string
	for v := range libbpfSuites {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// LibbpfUnavailableError means the suite that ships a libbpf version has
// no libbpf-dev for an arch (trixie has no mips64el, bookworm no
// riscv64), or this host cannot link it (Host says what it lacks: an
// lld of MinLLD or newer for trixie's riscv64, which Ubuntu 22.04 does
// not package): there is no loader as Debian ships it to test with
// there. It is a fact about Debian or the host, not a failure of a
// kernel.
type LibbpfUnavailableError struct {
	Version, Suite, DebianArch string
	// Host is what this host lacks; empty when Debian ships none.
	Host string
}

func (e *LibbpfUnavailableError) Error() string {
	if e.Host != "" {
		return fmt.Sprintf("this host cannot link %s's libbpf for %s: %s", e.Suite, e.DebianArch, e.Host)
	}
	return fmt.Sprintf("%s has no libbpf-dev for %s", e.Suite, e.DebianArch)
}

// LibbpfBuilder builds ksystest-libbpf for guest arches, each linked
// statically with the libbpf of a Debian suite (LibbpfVersions) and that
// suite's own libelf, zlib, zstd and glibc for the arch: packages fetched
// from the archive and verified like kernels, assembled into a sysroot
// the host's Debian cross gcc compiles against. Sysroots and loaders are
// cached, a loader by a hash of its source, every package's SHA256, the
// compiler's version and the flags.
type LibbpfBuilder struct {
	// Archive is Debian's archive, made on first use.
	Archive func() (*archive.Fetcher, error)
	// Cache keeps the sysroots and the loaders.
	Cache *cache.Cache
	// Source holds the loader's C source in cmd/ksystest-libbpf
	// (ksystest.GuestSource()).
	Source fs.FS
	// Logf reports builds and fallbacks; nil is quiet.
	Logf func(format string, args ...any)

	// compilers finds each arch's C toolchain once (CBuilder.toolchain).
	compilers CBuilder
}

func (b *LibbpfBuilder) logf(format string, args ...any) {
	if b.Logf != nil {
		b.Logf(format, args...)
	}
}

// Path returns ksystest-libbpf linked with libbpf version ("1.1", "1.5":
// LibbpfVersions) for a, building it when the cache has none for this
// source, these packages, compiler and flags. What it returns is a static
// ELF program for a's machine. Where the version's suite ships no libbpf
// for a, the error is a *LibbpfUnavailableError.
func (b *LibbpfBuilder) Path(ctx context.Context, version string, a arch.Arch) (string, error) {
	suite, ok := libbpfSuites[version]
	if !ok {
		return "", fmt.Errorf("libbpf %s: ksystest builds its loader with libbpf %s", version, strings.Join(LibbpfVersions(), " or "))
	}
	files, srcHash, err := source(b.Source, libbpfDir)
	if err != nil {
		return "", err
	}
	f, err := b.Archive()
	if err != nil {
		return "", err
	}
	pkgs, err := libbpfPackages(ctx, f, version, suite, a.DebianArch)
	if err != nil {
		return "", err
	}
	tc, err := b.compilers.toolchain(ctx, a)
	if err != nil {
		return "", err
	}
	var lld linker
	if needsLLD(suite, a.DebianArch) {
		if lld, err = findLLD(ctx, lldGlob); err != nil {
			return "", &LibbpfUnavailableError{Version: version, Suite: suite, DebianArch: a.DebianArch, Host: err.Error()}
		}
	}
	// Everything the loader is made from; its hash names the entry.
	from := fmt.Sprintf("ksystest-libbpf for libbpf %s (%s) on %s from source %s, packages %s, compiled by %s (%s)",
		version, suite, a.Name, srcHash, origins(pkgs, ", "), tc.CC, tc.Version)
	if lld.dir != "" {
		from += fmt.Sprintf(", linked by %s (%s)", lld.dir, lld.version)
	}
	from += ", flags " + strings.Join(libbpfFlags, " ")
	key := cache.Key(from)
	out := b.Cache.Path("libbpf", key, "ksystest-libbpf-"+version+"."+a.Name)
	_, err = b.Cache.File(ctx, "libbpf-"+key, out, from, func(tmp string) (string, error) {
		b.logf("building ksystest-libbpf %s for %s with %s's %s %s", version, a.Name, suite, pkgs[len(pkgs)-1].Name, pkgs[len(pkgs)-1].Version)
		return b.build(ctx, f, tc, lld, suite, pkgs, files, tmp)
	})
	if err != nil {
		return "", fmt.Errorf("build ksystest-libbpf %s for %s: %w", version, a.Name, err)
	}
	return out, nil
}

// libbpfPackages returns the packages of suite the loader is built from
// for debArch, libbpf-dev last: libbpf, the libraries it links
// statically (libelf, zlib, and zstd where libelf depends on it), and
// the suite's own C library and kernel headers, since a suite's libbpf.a
// needs its glibc (trixie's calls __isoc23_strtoull, new in glibc 2.38).
func libbpfPackages(ctx context.Context, f *archive.Fetcher, version, suite, debArch string) ([]archive.Package, error) {
	unavailable := &LibbpfUnavailableError{Version: version, Suite: suite, DebianArch: debArch}
	rel, err := f.Release(ctx, suite)
	if err != nil {
		return nil, err
	}
	if _, ok := rel.Files["main/binary-"+debArch+"/Packages"]; !ok {
		return nil, unavailable
	}
	find := func(name string) (archive.Package, error) { return findIn(ctx, f, suite, debArch, name) }
	libbpf, err := find("libbpf-dev")
	if errors.Is(err, archive.ErrNoPackage) {
		return nil, unavailable
	}
	if err != nil {
		return nil, err
	}
	// The version goes into the loader's C source as a string.
	if err := archive.CheckVersion(libbpf.Version); err != nil {
		return nil, fmt.Errorf("%s's libbpf-dev: %w", suite, err)
	}
	if !strings.HasPrefix(upstreamVersion(libbpf.Version)+".", version+".") {
		return nil, fmt.Errorf("libbpf %s: %s's libbpf-dev is %s now", version, suite, libbpf.Version)
	}
	libelf, err := find("libelf-dev")
	if err != nil {
		return nil, err
	}
	names := []string{"libc6-dev", "linux-libc-dev", "zlib1g-dev"}
	if dependsOn(libelf, "libzstd-dev") { // elfutils 0.192 reads zstd-compressed sections
		names = append(names, "libzstd-dev")
	}
	var out []archive.Package
	for _, name := range names {
		p, err := find(name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return append(out, libelf, libbpf), nil
}

// origins names packages, each by name, version and hash, joined by sep.
func origins(pkgs []archive.Package, sep string) string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Origin())
	}
	return strings.Join(out, sep)
}

// upstreamVersion is a Debian version without its epoch and revision:
// "1:1.5.0-3" is 1.5.0.
func upstreamVersion(v string) string {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		v = rest
	}
	if i := strings.LastIndex(v, "-"); i >= 0 {
		v = v[:i]
	}
	return v
}

// dependsOn says whether one of p's dependencies (or one of their
// alternatives) is the package name.
func dependsOn(p archive.Package, name string) bool {
	for _, dep := range strings.Split(p.Depends, ",") {
		for _, alt := range strings.Split(dep, "|") {
			n, _, _ := strings.Cut(strings.TrimSpace(alt), " ")
			n, _, _ = strings.Cut(n, "(")
			n, _, _ = strings.Cut(n, ":")
			if n == name {
				return true
			}
		}
	}
	return false
}

func needsLLD(suite, debArch string) bool {
	for _, a := range lldArches[suite] {
		if a == debArch {
			return true
		}
	}
	return false
}

// linker is LLVM's lld where a build needs it: the directory of its
// ld.lld, and what its --version says.
type linker struct{ dir, version string }

// lldGlob is where Debian and Ubuntu install each LLVM's ld.lld.
const lldGlob = "/usr/lib/llvm-*/bin/ld.lld"

// lldMajor reads LLVM's major version out of ld.lld --version ("Debian
// LLD 19.1.7 (compatible with GNU linkers)").
var lldMajor = regexp.MustCompile(`\bLLD (\d+)\.`)

// LLD finds the ld.lld a build links riscv64's libbpf-1.5 helper with
// (MinLLD or newer; the newest of /usr/lib/llvm-N, else the one on
// PATH): its path and what it says it is. Its error names what it found
// too old, and what to install.
func LLD(ctx context.Context) (path, version string, err error) {
	l, err := findLLD(ctx, lldGlob)
	if err != nil {
		return "", "", err
	}
	return filepath.Join(l.dir, "ld.lld"), l.version, nil
}

// findLLD finds the newest ld.lld of LLVM MinLLD or newer of those glob
// matches, else the one on PATH if it is that new. What it finds older
// is named in its error, which says what to install.
func findLLD(ctx context.Context, glob string) (linker, error) {
	lds, _ := filepath.Glob(glob)
	sort.Slice(lds, func(i, j int) bool { return llvmMajor(lds[i]) > llvmMajor(lds[j]) })
	if p, err := exec.LookPath("ld.lld"); err == nil {
		lds = append(lds, p)
	}
	var old []string
	for _, ld := range lds {
		version, err := output(ctx, ld, "--version")
		if err != nil {
			old = append(old, ld+": "+err.Error())
			continue
		}
		version, _, _ = strings.Cut(version, "\n")
		if m := lldMajor.FindStringSubmatch(version); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= MinLLD {
				return linker{dir: filepath.Dir(ld), version: version}, nil
			}
		}
		old = append(old, ld+": "+version)
	}
	found := ""
	if len(old) > 0 {
		found = " (found " + strings.Join(old, "; ") + ")"
	}
	return linker{}, fmt.Errorf("no ld.lld of LLVM %d or newer%s: binutils 2.40's ld crashes on its relocations, older lld does not know them (apt-get install lld-19, or lld where it is %d or newer)", MinLLD, found, MinLLD)
}

// llvmMajor is N of /usr/lib/llvm-N/bin/ld.lld.
func llvmMajor(p string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(filepath.Dir(filepath.Dir(p))), "llvm-"))
	return n
}

// build makes the sysroot (or finds it cached) and compiles the loader
// against it into tmp.
func (b *LibbpfBuilder) build(ctx context.Context, f *archive.Fetcher, tc *Toolchain, lld linker, suite string, pkgs []archive.Package, files map[string][]byte, tmp string) (string, error) {
	var gccInclude, multiarch string
	var err error
	if gccInclude, err = output(ctx, tc.CC, "-print-file-name=include"); err != nil {
		return "", err
	}
	// Debian's gcc knows its multiarch triplet (i686-linux-gnu-gcc says
	// i386-linux-gnu), where Debian's packages keep their libraries.
	if multiarch, err = output(ctx, tc.CC, "-print-multiarch"); err != nil {
		return "", err
	}
	if multiarch == "" {
		return "", fmt.Errorf("%s names no multiarch triplet: a Debian gcc is needed", tc.CC)
	}
	sr, err := b.sysroot(ctx, f, suite, tc.Arch, multiarch, pkgs)
	if err != nil {
		return "", err
	}
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			return "", err
		}
	}
	lib := filepath.Join(sr, "usr", "lib", multiarch)
	units := []string{libbpfMain}
	shim, err := callsUndefined(filepath.Join(lib, "libelf.a"), "eu_search_tree_init")
	if err != nil {
		return "", err
	}
	if shim {
		units = append(units, euSearchShim)
	}
	for _, u := range units {
		if files[u] == nil {
			return "", fmt.Errorf("%s: no %s", libbpfDir, u)
		}
	}
	libbpf := pkgs[len(pkgs)-1]
	out := filepath.Join(tmp, "ksystest-libbpf")
	args := append([]string{}, libbpfFlags...)
	args = append(args,
		"-isystem", gccInclude,
		"-isystem", filepath.Join(sr, "usr", "include", multiarch),
		"-isystem", filepath.Join(sr, "usr", "include"))
	// trixie's linux-libc-dev is Architecture: all; its asm/ directories
	// per triplet are symlinks into usr/lib/linux/uapi, which the
	// sysroot does not make.
	if uapi := filepath.Join(sr, "usr", "lib", "linux", "uapi", tc.Arch.BPF.Linux); isDir(uapi) {
		args = append(args, "-isystem", uapi)
	}
	// -B: the suite's crt1.o, crti.o and crtn.o; -L: its libc.a. Both
	// come before the driver's own (the host's cross libc).
	args = append(args, "-B"+lib+"/", "-L"+lib)
	if lld.dir != "" {
		args = append(args, "-fuse-ld=lld", "-B"+lld.dir+"/")
	}
	args = append(args, fmt.Sprintf("-DKSYSTEST_LIBBPF_PACKAGE=%q", libbpf.Name+" "+libbpf.Version), "-o", out)
	args = append(args, units...)
	args = append(args, "-lbpf", "-lelf", "-lz")
	for _, p := range pkgs {
		if p.Name == "libzstd-dev" {
			args = append(args, "-lzstd")
		}
	}
	warnings, err := runCC(ctx, tc.CC, src, args)
	if err != nil {
		return "", err
	}
	if warnings != "" {
		b.logf("%s: %s", tc.CC, warnings)
	}
	if err := CheckProgram(out, tc.Arch); err != nil {
		return "", fmt.Errorf("%s: %w", tc.CC, err)
	}
	return out, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// sysroot returns a directory holding the packages' headers and static
// libraries as Debian lays them out (usr/include, usr/lib/TRIPLET), made
// once per set of packages and cached. What it was made from, fallbacks
// included, is in its PACKAGES file.
func (b *LibbpfBuilder) sysroot(ctx context.Context, f *archive.Fetcher, suite string, a arch.Arch, multiarch string, pkgs []archive.Package) (string, error) {
	from := fmt.Sprintf("sysroot of %s for %s (%s, uapi %s): %s", suite, a.DebianArch, multiarch, a.BPF.Linux, origins(pkgs, ", "))
	key := cache.Key(from)
	dir := b.Cache.Path("libbpf", "sysroot-"+key)
	_, err := b.Cache.File(ctx, "libbpf-sysroot-"+key, dir, from, func(tmp string) (string, error) {
		root := filepath.Join(tmp, "sysroot")
		var used []archive.Package
		for _, p := range pkgs {
			u, err := b.install(ctx, f, suite, a, multiarch, p, root, tmp)
			if err != nil {
				return "", err
			}
			used = append(used, u)
		}
		return root, os.WriteFile(filepath.Join(root, "PACKAGES"), []byte(origins(used, "\n")+"\n"), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("sysroot of %s for %s: %w", suite, a.DebianArch, err)
	}
	return dir, nil
}

// place maps a directory of a package (a path relative to /, ending in a
// slash) onto one of the sysroot.
type place struct{ from, to string }

// install downloads p, verified, and extracts what the build uses into
// root; it returns the package it took, which differs from p when the
// mirror has no file for p (see fallback).
func (b *LibbpfBuilder) install(ctx context.Context, f *archive.Fetcher, suite string, a arch.Arch, multiarch string, p archive.Package, root, tmp string) (archive.Package, error) {
	places := []place{
		{"usr/include/", "usr/include/"},
		{"usr/lib/" + multiarch + "/", "usr/lib/" + multiarch + "/"},
		{"usr/lib/linux/uapi/" + a.BPF.Linux + "/", "usr/lib/linux/uapi/" + a.BPF.Linux + "/"},
	}
	deb := filepath.Join(tmp, p.Name+".deb")
	err := download(ctx, f, p, deb)
	var status *archive.StatusError
	if errors.As(err, &status) && status.Code == http.StatusNotFound {
		var alt archive.Package
		if alt, places, err = b.fallback(ctx, f, suite, a, multiarch, p); err != nil {
			return p, err
		}
		p, err = alt, download(ctx, f, alt, deb)
	}
	if err != nil {
		return p, err
	}
	if err := extract(deb, root, places); err != nil {
		return p, fmt.Errorf("%s: %w", p.Name, err)
	}
	return p, nil
}

// fallback is where a package comes from when the mirror answers 404 for
// the file the suite's signed index lists. Some mirrors lack files: one
// lists trixie's libc6-dev and zlib1g-dev for ppc64el and s390x and
// serves neither (nor does its security archive). A whole mirror never
// needs this; such a mirror would otherwise leave the loader unbuildable.
// Two packages have a stand-in:
//   - libc6-dev: the suite's libc6-dev-ARCH-cross, the same glibc as
//     Debian's cross toolchain packs it (Architecture: all, laid out in
//     usr/GNU-TRIPLET/{include,lib});
//   - zlib1g-dev: bookworm's, for the arch. zlib's static ABI is stable,
//     and libelf uses only inflate and deflate.
func (b *LibbpfBuilder) fallback(ctx context.Context, f *archive.Fetcher, suite string, a arch.Arch, multiarch string, p archive.Package) (archive.Package, []place, error) {
	missing := fmt.Errorf("%s %s for %s: the mirror has no %s", p.Name, p.Version, a.DebianArch, p.Filename)
	var alt archive.Package
	var places []place
	var err error
	switch p.Name {
	case "libc6-dev":
		name := "libc6-dev-" + a.DebianArch + "-cross"
		if alt, err = findIn(ctx, f, suite, a.DebianArch, name); err != nil {
			return p, nil, fmt.Errorf("%w, and no stand-in: %w", missing, err)
		}
		if upstreamVersion(alt.Version) != upstreamVersion(p.Version) {
			return p, nil, fmt.Errorf("%w, and %s is glibc %s, not %s", missing, alt.Name, upstreamVersion(alt.Version), upstreamVersion(p.Version))
		}
		gnu := strings.TrimSuffix(filepath.Base(a.CrossCC), "-gcc") // i686-linux-gnu for i386
		places = []place{
			{"usr/" + gnu + "/include/", "usr/include/"},
			{"usr/" + gnu + "/lib/", "usr/lib/" + multiarch + "/"},
		}
	case "zlib1g-dev":
		const zlibSuite = "bookworm"
		if suite == zlibSuite {
			return p, nil, missing
		}
		if alt, err = findIn(ctx, f, zlibSuite, a.DebianArch, p.Name); err != nil {
			return p, nil, fmt.Errorf("%w, and no stand-in: %w", missing, err)
		}
		places = []place{{"usr/include/", "usr/include/"}, {"usr/lib/" + multiarch + "/", "usr/lib/" + multiarch + "/"}}
	default:
		return p, nil, missing
	}
	b.logf("%v (404): taking %s %s instead", missing, alt.Name, alt.Version)
	return alt, places, nil
}

func findIn(ctx context.Context, f *archive.Fetcher, suite, debArch, name string) (archive.Package, error) {
	pkgs, err := f.Packages(ctx, suite, debArch, name)
	if err != nil {
		return archive.Package{}, err
	}
	p, err := archive.FindPackage(pkgs, name)
	if err != nil {
		return archive.Package{}, fmt.Errorf("suite %s, %s: %w", suite, debArch, err)
	}
	return p, nil
}

// download fetches the package p names, checked against its SHA256.
func download(ctx context.Context, f *archive.Fetcher, p archive.Package, dest string) error {
	f.Log("downloading %s %s (%d KiB)", p.Name, p.Version, p.Size>>10)
	return f.Download(ctx, f.Mirror+"/"+p.Filename, cache.FileSum{SHA256: p.SHA256, Size: p.Size}, dest)
}

// maxSysrootPackage bounds what one package may put into a sysroot; the
// largest, libc6-dev, puts about 30 MB.
const maxSysrootPackage = 1 << 30

// extract writes the regular files of the .deb at deb that lie under one
// of places into root, at the place's new path. Names with ".." are
// skipped and no links are made, so nothing lands outside root.
func extract(deb, root string, places []place) error {
	r, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer r.Close()
	n, left := 0, int64(maxSysrootPackage)
	err = archive.WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
		if hdr.Typeflag != tar.TypeReg || strings.Contains(name, "..") {
			return nil
		}
		for _, p := range places {
			rest, ok := strings.CutPrefix(name, p.from)
			if !ok {
				continue
			}
			if left -= hdr.Size; left < 0 {
				return fmt.Errorf("more than %d bytes in all", maxSysrootPackage)
			}
			n++
			return archive.WriteFrom(filepath.Join(root, filepath.FromSlash(p.to+rest)), body)
		}
		return nil
	})
	if err == nil && n == 0 {
		err = errors.New("no headers or libraries in it")
	}
	return err
}

// callsUndefined reports whether the static library at lib calls sym
// without defining it: elfutils 0.192's libelf.a calls libeu's
// eu_search_tree_init and friends, and leaves libeu out (sourceware bug
// 32293, mended in 0.193).
func callsUndefined(lib, sym string) (bool, error) {
	data, err := os.ReadFile(lib)
	if err != nil {
		return false, err
	}
	const magic, header = "!<arch>\n", 60
	if !bytes.HasPrefix(data, []byte(magic)) {
		return false, fmt.Errorf("%s: not an ar archive", lib)
	}
	var called, defined bool
	for off := len(magic); off+header <= len(data); {
		size, err := strconv.Atoi(strings.TrimSpace(string(data[off+48 : off+58])))
		if err != nil || size < 0 || size > len(data)-off-header {
			return false, fmt.Errorf("%s: bad ar member at %d", lib, off)
		}
		member := data[off+header : off+header+size]
		off += header + size + size%2
		f, err := elf.NewFile(bytes.NewReader(member))
		if err != nil {
			continue // the symbol index, the long names
		}
		syms, _ := f.Symbols()
		for _, s := range syms {
			if s.Name == sym {
				called = called || s.Section == elf.SHN_UNDEF
				defined = defined || s.Section != elf.SHN_UNDEF
			}
		}
	}
	return called && !defined, nil
}
