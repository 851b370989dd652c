package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// UserlandSuites are where a foreign arch guest's Debian programs come
// from: the first with the arch (riscv64 is Debian's from trixie on). The
// oldest first, so that their C library needs are met by the host's cross
// C library (Debian 12's 2.36, Ubuntu 22.04's 2.35).
var UserlandSuites = []string{"bookworm", "trixie"}

// Userland is what Debian gives a guest whose arch is not the host's, so
// that it has what a developer's machine of that arch has: bash, and
// LLVM's clang with its binutils (bpf2go and users' tests run them).
type Userland struct {
	// Bash is a directory holding Debian's bash ("bash", executable), the
	// one library it needs beyond the C library ("lib/libtinfo.so.6")
	// and the suite's C library with its dynamic loader and the
	// libraries beside it ("libc/libc.so.6", "libc/libm.so.6",
	// "libc/ld-....so.N").
	Bash string
	// Clang is the suite's clang; nil where the suite has none for the
	// arch, and ClangErr (a NoClangError) says why: the guest then has
	// none, as a machine without it. Failing to fetch or make it is
	// Userland's error.
	Clang    *Clang
	ClangErr error
}

// Clang is a cache entry holding the suite's clang-N for an arch:
// "llvm" is its /usr/lib/llvm-N (bin/clang, clang-N and LLVM's binutils
// as ClangTools names them; lib/clang/VERSION/include, the compiler's own
// headers), "lib" the libraries they load beyond the C library, each
// under its soname.
type Clang struct {
	Dir   string
	Major string // N: the guest shows "llvm" at /usr/lib/llvm-N
	// Check hashes the entry: too large to hash before each use, it is
	// hashed while the guest runs, and a run with it is believed only if
	// Check passes (cache.FileChecked).
	Check func() error
}

// ClangTools are the programs of LLVM's package the guest gets beside
// clang: those BPF builds run (bpf2go strips with llvm-strip) and read
// objects with.
var ClangTools = []string{"llvm-objcopy", "llvm-strip", "llvm-objdump", "llvm-readobj", "llvm-readelf"}

// userlandLayout names the layout of the entries Userland makes: it is
// part of what they are made from, so that a ksystest that lays them out
// otherwise makes them again.
const userlandLayout = "layout 2"

// Userland returns Debian's bash and clang for debArch from the first of
// UserlandSuites with the arch, verified like kernels and cached by the
// packages' hashes, reading the suite's index once for both. Programs
// under test open /bin/bash to probe it (cilium/ebpf's uprobe tests do)
// and run clang (bpf2go's); a guest whose arch is not the host's cannot
// run the host's. An error is bash's; clang's is ClangErr.
func (f *Fetcher) Userland(ctx context.Context, debArch string) (*Userland, error) {
	suite := ""
	for _, s := range UserlandSuites {
		rel, err := f.Release(ctx, s)
		if err != nil {
			return nil, err
		}
		if rel.HasArch(debArch) {
			suite = s
			break
		}
	}
	if suite == "" {
		return nil, fmt.Errorf("none of %s has %s", strings.Join(UserlandSuites, ", "), debArch)
	}
	index, err := f.packages(ctx, suite, debArch, "", func(n string) bool {
		return n == "bash" || n == "clang" || strings.HasPrefix(n, "clang-") || strings.HasPrefix(n, "llvm-") ||
			strings.HasPrefix(n, "lib") || strings.HasPrefix(n, "zlib")
	})
	if err != nil {
		return nil, err
	}
	u := &Userland{}
	if u.Bash, err = f.bash(ctx, suite, debArch, index); err != nil {
		return nil, err
	}
	u.Clang, err = f.clang(ctx, suite, debArch, index)
	var none *NoClangError
	switch {
	case errors.As(err, &none):
		u.ClangErr = err
	case err != nil:
		// A download or the disk failing is ksystest's, not a guest
		// without clang whose tests then fail.
		return nil, err
	}
	return u, nil
}

// NoClangError says a suite's clang cannot be had for an arch: the suite
// has none, or its packages do not hold what it needs.
type NoClangError struct{ Err error }

func (e *NoClangError) Error() string { return e.Err.Error() }
func (e *NoClangError) Unwrap() error { return e.Err }

// bash makes Userland's Bash from the suite's bash, libtinfo6 and libc6.
func (f *Fetcher) bash(ctx context.Context, suite, debArch string, index []Package) (string, error) {
	var pkgs [3]Package
	var err error
	for i, name := range []string{"bash", "libtinfo6", "libc6"} {
		if pkgs[i], err = FindPackage(index, name); err != nil {
			return "", fmt.Errorf("%s %s: %w", suite, debArch, err)
		}
	}
	dir, from, lock := f.userlandEntry("bash", debArch, pkgs[:])
	_, err = f.Cache.File(ctx, lock, dir, from, func(tmp string) (string, error) {
		out := filepath.Join(tmp, "bash")
		for _, p := range pkgs {
			deb, err := f.userlandDeb(ctx, tmp, p, debArch)
			if err != nil {
				return "", err
			}
			if err := extractBash(deb, p.Name, out); err != nil {
				return "", fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		return out, nil
	})
	if err != nil {
		return "", err
	}
	// The cache keeps contents, not modes: the kernel execs bash and
	// maps the loader only when they are executable.
	loaders, _ := filepath.Glob(filepath.Join(dir, "libc", "ld*"))
	for _, p := range append(loaders, filepath.Join(dir, "bash")) {
		if err := os.Chmod(p, 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// userlandEntry is where the cache keeps what Userland makes of pkgs for
// debArch as kind ("bash", "clang"), what it is made from, and the lock
// its making takes.
func (f *Fetcher) userlandEntry(kind, debArch string, pkgs []Package) (dir, from, lock string) {
	var origins []string
	for _, p := range pkgs {
		origins = append(origins, fmt.Sprintf("%s %s (sha256 %s)", p.Name, p.Version, p.SHA256))
	}
	sum := sha256.Sum256([]byte(userlandLayout + "\n" + strings.Join(origins, "\n")))
	key := hex.EncodeToString(sum[:])
	return f.Cache.Path("tools", kind+"-"+debArch+"-"+key), strings.Join(origins, ", ") + " for " + debArch + ", " + userlandLayout,
		kind + "-" + key[:16]
}

// userlandDeb downloads p into tmp.
func (f *Fetcher) userlandDeb(ctx context.Context, tmp string, p Package, debArch string) (string, error) {
	deb := filepath.Join(tmp, p.Name+".deb")
	f.Log("downloading %s %s for %s (%d KiB)", p.Name, p.Version, debArch, p.Size>>10)
	return deb, f.DownloadPackage(ctx, p, deb)
}

// extractBash takes from the package pkg at deb the files Bash keeps:
// bash's /bin/bash (/usr/bin/bash after usrmerge) as out/bash;
// libtinfo6's libtinfo.so.6.N, from its multiarch directory, as
// out/lib/libtinfo.so.6 (its soname); libc6's libraries (libc.so.6,
// libm.so.6, … : each named by its soname since glibc 2.34) and dynamic
// loader (ld-*.so.N) as out/libc/NAME.
func extractBash(deb, pkg, out string) error {
	r, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer r.Close()
	var found []string
	err = WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
		if hdr.Typeflag != tar.TypeReg || hdr.Size > maxExtract {
			return nil
		}
		base := path.Base(name)
		inLib := strings.HasPrefix(name, "lib") || strings.HasPrefix(name, "usr/lib")
		var dest string
		switch {
		case pkg == "bash" && (name == "bin/bash" || name == "usr/bin/bash"):
			dest = filepath.Join(out, "bash")
		case pkg == "libtinfo6" && inLib && strings.HasPrefix(base, "libtinfo.so.6."):
			dest = filepath.Join(out, "lib", "libtinfo.so.6")
		case pkg == "libc6" && inLib && !strings.Contains(name, "/gconv/") && !strings.Contains(name, "/audit/") &&
			strings.HasPrefix(base, "l") && strings.Contains(base, ".so."):
			dest = filepath.Join(out, "libc", base)
		default:
			return nil
		}
		if slices.Contains(found, dest) {
			return fmt.Errorf("two files for %s", path.Base(dest))
		}
		found = append(found, dest)
		return WriteFrom(dest, body)
	})
	if err != nil {
		return err
	}
	switch pkg {
	case "bash", "libtinfo6":
		if len(found) != 1 {
			return fmt.Errorf("%d of the 1 file ksystest takes from it", len(found))
		}
	case "libc6":
		for _, want := range []string{"libc.so.6", "libm.so.6"} {
			if !slices.Contains(found, filepath.Join(out, "libc", want)) {
				return fmt.Errorf("no %s in it", want)
			}
		}
		if !slices.ContainsFunc(found, func(p string) bool { return strings.HasPrefix(filepath.Base(p), "ld") }) {
			return errors.New("no dynamic loader (ld*.so.N) in it")
		}
	}
	return nil
}

// clangPackages are the packages of the suite's clang for Userland: the
// one the "clang" package stands for (clang-N), its libraries and theirs
// (dependencies named lib* or zlib*, not -dev, not the C library, which
// the guest has already), LLVM's own package (llvm-N, for its binutils;
// its dependencies are not followed, since its other programs are not
// taken), and libclang-common-N-dev (the compiler's headers).
func clangPackages(index []Package) (major string, pkgs []Package, err error) {
	meta, err := FindPackage(index, "clang")
	if err != nil {
		return "", nil, err
	}
	first := meta.FirstDependency()
	major, ok := strings.CutPrefix(first, "clang-")
	if !ok || major == "" || strings.Trim(major, "0123456789") != "" {
		return "", nil, fmt.Errorf("clang %s depends first on %q, not on a clang-N", meta.Version, first)
	}
	seen := map[string]bool{}
	var add func(name string, follow bool) error
	add = func(name string, follow bool) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		p, err := FindPackage(index, name)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, p)
		if !follow {
			return nil
		}
		for _, dep := range strings.Split(p.Depends, ",") {
			alt, _, _ := strings.Cut(dep, "|")
			n, _, _ := strings.Cut(strings.TrimSpace(alt), " ")
			n, _, _ = strings.Cut(n, "(")
			n, _, _ = strings.Cut(n, ":")
			if !(strings.HasPrefix(n, "lib") || strings.HasPrefix(n, "zlib")) || strings.HasSuffix(n, "-dev") || n == "libc6" {
				continue
			}
			if err := add(n, true); err != nil {
				return fmt.Errorf("%s's dependency: %w", name, err)
			}
		}
		return nil
	}
	// libtinfo6 too: the guest's bash finds its library where clang's
	// are, so they come together (keepNeeded keeps it for bash).
	for _, name := range []string{"clang-" + major, "libtinfo6"} {
		if err := add(name, true); err != nil {
			return "", nil, err
		}
	}
	for _, name := range []string{"llvm-" + major, "libclang-common-" + major + "-dev"} {
		if err := add(name, false); err != nil {
			return "", nil, err
		}
	}
	return major, pkgs, nil
}

// clang makes Userland's Clang.
func (f *Fetcher) clang(ctx context.Context, suite, debArch string, index []Package) (*Clang, error) {
	major, pkgs, err := clangPackages(index)
	if err != nil {
		return nil, &NoClangError{fmt.Errorf("%s %s: %w", suite, debArch, err)}
	}
	dir, from, lock := f.userlandEntry("clang", debArch, pkgs)
	var packed int64
	for _, p := range pkgs {
		packed += p.Size
	}
	check, err := f.Cache.FileChecked(ctx, lock, dir, from, func(tmp string) (string, error) {
		f.Log("clang-%s for %s: %d packages, %d MiB to download once", major, debArch, len(pkgs), packed>>20)
		out := filepath.Join(tmp, "clang")
		libs := filepath.Join(tmp, "libs")
		for _, p := range pkgs {
			deb, err := f.userlandDeb(ctx, tmp, p, debArch)
			if err != nil {
				return "", err
			}
			if err := extractClang(deb, p.Name, major, out, libs); err != nil {
				return "", fmt.Errorf("%s: %w", p.Name, err)
			}
			if err := os.Remove(deb); err != nil {
				return "", err
			}
		}
		if err := keepNeeded(filepath.Join(out, "llvm", "bin"), libs, filepath.Join(out, "lib"), BashLibs...); err != nil {
			return "", err
		}
		return out, nil
	})
	var none *NoClangError
	if errors.As(err, &none) {
		return nil, &NoClangError{fmt.Errorf("clang-%s for %s: %w", major, debArch, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("clang-%s for %s: %w", major, debArch, err)
	}
	bins, _ := filepath.Glob(filepath.Join(dir, "llvm", "bin", "*"))
	for _, p := range bins {
		if err := os.Chmod(p, 0o755); err != nil {
			return nil, err
		}
	}
	return &Clang{Dir: dir, Major: major, Check: check}, nil
}

// extractClang takes from the package pkg at deb what Clang keeps:
// clang-N's clang and llvm-N's ClangTools as out/llvm/bin/NAME (a
// symlink within the package's bin as a copy of its target, since the
// cache keeps no symlinks), clang as clang-N too; the compiler's headers
// from libclang-common-N-dev as out/llvm/lib/clang/VERSION/include/...;
// and every other package's shared libraries (regular files below lib or
// usr/lib, or in /usr/lib/llvm-N/lib) as libs/PACKAGE/NAME, for
// keepNeeded.
func extractClang(deb, pkg, major, out, libs string) error {
	r, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer r.Close()
	llvm := "usr/lib/llvm-" + major + "/"
	bin := filepath.Join(out, "llvm", "bin")
	links := map[string]string{} // a tool in the package's bin → its target there
	var took []string
	err = WalkDeb(r, func(name string, hdr *tar.Header, body io.Reader) error {
		rest, inLLVM := strings.CutPrefix(name, llvm)
		var dest string
		switch {
		case inLLVM && strings.HasPrefix(rest, "bin/") && !strings.Contains(rest[len("bin/"):], "/"):
			tool := path.Base(rest)
			if !(pkg == "clang-"+major && tool == "clang" || pkg == "llvm-"+major && slices.Contains(ClangTools, tool)) {
				return nil
			}
			if hdr.Typeflag == tar.TypeSymlink {
				if strings.Contains(hdr.Linkname, "/") {
					return fmt.Errorf("/%s links out of its directory (%s)", name, hdr.Linkname)
				}
				links[tool] = hdr.Linkname
				return nil
			}
			dest = filepath.Join(bin, tool)
		case inLLVM && pkg == "libclang-common-"+major+"-dev" && strings.HasPrefix(rest, "lib/clang/"):
			// lib/clang/VERSION/include/...: the headers, no runtimes.
			parts := strings.SplitN(strings.TrimPrefix(rest, "lib/clang/"), "/", 3)
			if len(parts) < 3 || parts[1] != "include" {
				return nil
			}
			dest = filepath.Join(out, "llvm", filepath.FromSlash(rest))
		case (strings.HasPrefix(name, "lib/") || strings.HasPrefix(name, "usr/lib/")) && !inLLVM || inLLVM && path.Dir(rest) == "lib":
			// A library: in a library directory, or in LLVM's own
			// (libclang-cpp.so.N lives there).
			if !strings.Contains(path.Base(name), ".so") || pkg == "clang-"+major || pkg == "llvm-"+major {
				return nil
			}
			dest = filepath.Join(libs, pkg, path.Base(name))
		default:
			return nil
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		if hdr.Size > maxExtract {
			return fmt.Errorf("/%s: %d bytes, more than %d", name, hdr.Size, maxExtract)
		}
		if !within(dest, out, libs) {
			return fmt.Errorf("/%s would be written outside what ksystest makes of the package", name)
		}
		took = append(took, dest)
		return WriteFrom(dest, body)
	})
	if err != nil {
		return err
	}
	// The package's links to its own tools: llvm-strip is llvm-objcopy,
	// which strips when its name says so.
	names := make([]string, 0, len(links))
	for tool := range links {
		names = append(names, tool)
	}
	sort.Strings(names)
	for _, tool := range names {
		target := filepath.Join(bin, links[tool])
		if !slices.Contains(took, target) {
			return fmt.Errorf("%s links to %s, which it does not hold", tool, links[tool])
		}
		if err := copyFile(target, filepath.Join(bin, tool)); err != nil {
			return err
		}
		took = append(took, filepath.Join(bin, tool))
	}
	switch pkg {
	case "clang-" + major:
		if !slices.Contains(took, filepath.Join(bin, "clang")) {
			return fmt.Errorf("no /%sbin/clang in it", llvm)
		}
		return copyFile(filepath.Join(bin, "clang"), filepath.Join(bin, "clang-"+major))
	case "llvm-" + major:
		for _, tool := range ClangTools {
			if !slices.Contains(took, filepath.Join(bin, tool)) {
				return fmt.Errorf("no /%sbin/%s in it", llvm, tool)
			}
		}
	case "libclang-common-" + major + "-dev":
		if len(took) == 0 {
			return fmt.Errorf("no /%slib/clang/VERSION/include in it", llvm)
		}
	}
	return nil
}

// within says whether dest is below one of roots: a package's names are
// its own, and none may write outside what is made of it.
func within(dest string, roots ...string) bool {
	for _, r := range roots {
		if rel, err := filepath.Rel(r, dest); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

// copyFile copies the file at src to dest.
func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return WriteFrom(dest, in)
}

// BashLibs are the libraries Userland's bash needs beyond the C library:
// Clang's lib holds them too, since the guest shows one of the two at
// /usr/lib/TRIPLET.
var BashLibs = []string{"libtinfo.so.6"}

// keepNeeded moves into lib, each under its soname, the libraries of
// libs (libs/PACKAGE/FILE) that the programs in bin load, directly or
// through each other (ELF DT_NEEDED), and those of also, and drops the
// rest. A library needed that libs lacks is an error, unless it is the C
// library's (libc6's, which the guest has): a clang that cannot start is
// worse than none, which the guest's user is told of.
func keepNeeded(bin, libs, lib string, also ...string) error {
	bySoname := map[string]string{}
	pkgDirs, err := os.ReadDir(libs)
	if err != nil {
		return err
	}
	for _, d := range pkgDirs {
		files, err := os.ReadDir(filepath.Join(libs, d.Name()))
		if err != nil {
			return err
		}
		for _, fe := range files {
			p := filepath.Join(libs, d.Name(), fe.Name())
			soname, _, err := elfDynamic(p)
			if err != nil || soname == "" {
				continue // not a shared library: a plugin, a linker script
			}
			if _, dup := bySoname[soname]; !dup {
				bySoname[soname] = p
			}
		}
	}
	progs, err := os.ReadDir(bin)
	if err != nil {
		return err
	}
	queue := slices.Clone(also)
	needer := map[string]string{}
	for _, n := range also {
		needer[n] = "bash"
	}
	for _, p := range progs {
		_, needed, err := elfDynamic(filepath.Join(bin, p.Name()))
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name(), err)
		}
		for _, n := range needed {
			if _, ok := needer[n]; !ok {
				needer[n] = p.Name()
				queue = append(queue, n)
			}
		}
	}
	for len(queue) > 0 {
		soname := queue[0]
		queue = queue[1:]
		src, ok := bySoname[soname]
		if !ok {
			if isLibc(soname) {
				continue
			}
			return &NoClangError{fmt.Errorf("%s needs %s, which none of the packages holds", needer[soname], soname)}
		}
		_, needed, err := elfDynamic(src)
		if err != nil {
			return fmt.Errorf("%s: %w", soname, err)
		}
		for _, n := range needed {
			if _, ok := needer[n]; !ok {
				needer[n] = soname
				queue = append(queue, n)
			}
		}
		if err := os.MkdirAll(lib, 0o755); err != nil {
			return err
		}
		if err := os.Rename(src, filepath.Join(lib, soname)); err != nil {
			return err
		}
	}
	return os.RemoveAll(libs)
}

// isLibc says whether soname is one of the C library's (libc6's: libc,
// libm, libpthread, libdl, librt, libresolv, the dynamic loader), which
// the guest's C library directory holds.
func isLibc(soname string) bool {
	base, _, _ := strings.Cut(soname, ".so")
	switch base {
	case "libc", "libm", "libmvec", "libpthread", "libdl", "librt", "libresolv", "libutil", "libanl", "libBrokenLocale":
		return true
	}
	return strings.HasPrefix(base, "ld-linux") || strings.HasPrefix(base, "ld64") || base == "ld"
}

// elfDynamic reads an ELF file's soname and the libraries it needs.
func elfDynamic(p string) (soname string, needed []string, err error) {
	f, err := elf.Open(p)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	names, err := f.DynString(elf.DT_SONAME)
	if err != nil {
		return "", nil, err
	}
	if len(names) > 0 {
		soname = names[0]
		if soname != path.Base(soname) || soname == "." || soname == ".." {
			return "", nil, fmt.Errorf("soname %q is not a plain name", soname)
		}
	}
	needed, err = f.DynString(elf.DT_NEEDED)
	return soname, needed, err
}
