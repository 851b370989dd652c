package run

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/proto"
)

// An exec guest shows host files where they are on the host, read-only,
// from the host's share (proto.HostShareTag): nothing is copied, so a
// test binary of tens of MB costs what reading it costs.

// binds collects host paths to show in the guest at their own paths (or
// another), each once, none over a path the guest keeps.
type binds struct {
	list []proto.Bind
}

// guestKept are the guest's own directories: a bind may not be one of
// them or hold one (it would hide it), but may be below one.
var guestKept = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/init", "/bin", "/boot", "/lib/modules",
	"/ksystest", "/ksystest-host", "/ksystest-share", "/ksystest-standby"}

// keptBy says which of the guest's own paths a bind at guest would hide.
func keptBy(guest string) string {
	for _, k := range guestKept {
		if guest == "/" || guest == k || strings.HasPrefix(k, guest+"/") {
			return k
		}
	}
	return ""
}

// add shows host at guest; host's symlinks are resolved here, since the
// guest would resolve them in its own tree.
func (b *binds) add(host, guest string) error {
	real, err := filepath.EvalSymlinks(host)
	if err != nil {
		return err
	}
	if k := keptBy(guest); k != "" {
		return fmt.Errorf("%s cannot be shown in the guest at %s: the guest keeps %s for itself", host, guest, k)
	}
	if !utf8.ValidString(real) || !utf8.ValidString(guest) {
		// The guest is told its binds in JSON, which carries UTF-8 only.
		return fmt.Errorf("%q cannot be shown in the guest: its path is not UTF-8", host)
	}
	for _, have := range b.list {
		if have.Guest == guest {
			return nil
		}
	}
	if len(b.list) >= proto.MaxBinds {
		return fmt.Errorf("more than %d host paths to show in the guest", proto.MaxBinds)
	}
	b.list = append(b.list, proto.Bind{Host: real, Guest: guest})
	return nil
}

// covers says whether path is shown already, as a bind or below one.
func (b *binds) covers(path string) bool {
	for _, have := range b.list {
		if path == have.Guest || strings.HasPrefix(path, have.Guest+"/") {
			return true
		}
	}
	return false
}

// moduleRoot is the nearest directory at or above dir holding go.mod, or
// "" for none: what a Go package's tests may read (../testdata).
func moduleRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if d == "/" {
			return ""
		}
	}
}

// execBinds are what an exec guest shows of the host: the working
// directory's module root (its nearest go.mod; else the directory
// itself), each of shares, the host's /usr where the guest runs the
// host's programs, the program unless it is below one of those, the
// program's dynamic loader and libraries, the Go toolchain (a go test
// binary runs go), and /bin/bash (programs probe it, as cilium/ebpf's
// uprobe tests do): the host's, or for another arch, Debian's from
// foreign (archive.Fetcher.Userland's; nil for none), with its clang.
// The Go toolchain of another arch is foreignGo (goToolchain; "" for
// none).
func execBinds(ctx context.Context, dir string, shares []string, prog *Program, guest arch.Arch, foreign *archive.Userland, foreignGo string) ([]proto.Bind, error) {
	var b binds
	if dir != "" {
		root := moduleRoot(dir)
		if root == "" || keptBy(root) != "" {
			root = dir
		}
		// A working directory that is one of the guest's own (/tmp) is
		// the guest's: the program starts in it there, with its files
		// (below, each shown) and none of the host's others.
		if keptBy(root) == "" {
			if err := b.add(root, root); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range shares {
		abs, err := filepath.Abs(s)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("--share: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("--share %s: not a directory", s)
		}
		if err := b.add(abs, abs); err != nil {
			return nil, fmt.Errorf("--share: %w", err)
		}
	}
	if hostRuns(guest) {
		// The host's own programs run there: its /usr is the guest's, as
		// a machine that builds and tests has it (compilers, go, the C
		// library), read-only.
		if err := b.add("/usr", "/usr"); err != nil {
			return nil, err
		}
	}
	if !b.covers(prog.Path) {
		if err := b.add(prog.Path, prog.Path); err != nil {
			return nil, err
		}
	}
	if prog.Interp != "" {
		var err error
		if hostRuns(prog.Arch) {
			err = b.hostLibraries(ctx, prog.Path)
		} else {
			err = b.libraries(prog.Interp, prog.Arch)
		}
		if err != nil {
			return nil, fmt.Errorf("%s is dynamically linked: %w", prog.Path, err)
		}
	}
	for i, dir := range goDirs() {
		// The Go toolchain and module cache at their paths: a go test
		// binary runs go (its build.Default.GOROOT), which builds from
		// the modules the host has, as on the machine that built it. A
		// guest of another arch gets a toolchain of its own arch there.
		host := dir
		if i == 0 && !hostRuns(guest) {
			if host = foreignGo; host == "" {
				continue
			}
		}
		if !b.covers(dir) {
			if err := b.add(host, dir); err != nil {
				return nil, err
			}
		}
	}
	if b.showsGo() {
		// The host's build cache, behind the guest's own (the exec init
		// serves both as the go command's GOCACHEPROG): a go command in
		// the guest builds only what the host has not built already.
		// Only a speed-up: a guest without it builds all.
		if cache := hostGoCache(); cache != "" && len(b.list) < proto.MaxBinds-2 {
			_ = b.add(cache, proto.HostGoCache)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil && hostRuns(guest) {
		if err := b.add(bash, "/bin/bash"); err != nil {
			return nil, err
		}
		if err := b.hostLibraries(ctx, bash); err != nil {
			return nil, fmt.Errorf("/bin/bash: %w", err)
		}
	} else if foreign != nil && !hostRuns(guest) {
		if err := b.userland(foreign, guest); err != nil {
			return nil, fmt.Errorf("/bin/bash: %w", err)
		}
	}
	return b.list, nil
}

// userland shows Debian's bash for a at /bin/bash (u.Bash), libtinfo
// beside it in /usr/lib/TRIPLET and the C library and loader of its own
// suite at /lib/TRIPLET, which a's dynamic loader searches; where a
// dynamically linked program has the host's cross C library there
// already, bash runs with that one. With u.Clang, clang's libraries are
// /usr/lib/TRIPLET instead (they hold bash's) and LLVM's directory is
// /usr/lib/llvm-N, as Debian installs them.
func (b *binds) userland(u *archive.Userland, a arch.Arch) error {
	dir := u.Bash
	bash := filepath.Join(dir, "bash")
	p, err := ReadProgram(bash)
	if err != nil {
		return err
	}
	if !p.RunsOn(a) || p.Interp == "" {
		return fmt.Errorf("%s is not a dynamically linked program for %s", bash, a.Name)
	}
	if err := b.add(bash, "/bin/bash"); err != nil {
		return err
	}
	if !b.covers(p.Interp) {
		if err := b.add(filepath.Join(dir, "libc", filepath.Base(p.Interp)), p.Interp); err != nil {
			return err
		}
	}
	if lib := "/lib/" + multiarch(a); !b.covers(lib) {
		if err := b.add(filepath.Join(dir, "libc"), lib); err != nil {
			return err
		}
	}
	// A clang entry damaged so that it lacks bash's libraries (its check
	// reports that): bash still runs, with its own.
	if u.Clang == nil || !holdsAll(filepath.Join(u.Clang.Dir, "lib"), archive.BashLibs) {
		return b.add(filepath.Join(dir, "lib"), "/usr/lib/"+multiarch(a))
	}
	if err := b.add(filepath.Join(u.Clang.Dir, "lib"), "/usr/lib/"+multiarch(a)); err != nil {
		return err
	}
	return b.add(filepath.Join(u.Clang.Dir, "llvm"), llvmDir(u.Clang))
}

// holdsAll says whether dir holds every one of names.
func holdsAll(dir string, names []string) bool {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return false
		}
	}
	return true
}

// llvmDir is where Debian installs clang's LLVM: /usr/lib/llvm-N.
func llvmDir(c *archive.Clang) string { return "/usr/lib/llvm-" + c.Major }

// hostRuns says whether the host's own programs are of a's arch.
func hostRuns(a arch.Arch) bool { return a.Go.GOARCH == runtime.GOARCH }

// libraries shows the dynamic loader interp of a program of a foreign
// arch a, and its C library: the host's cross C library for a
// (/usr/TRIPLET/lib, which the install step brings) as the loader's own
// directory for the arch, /lib/TRIPLET.
func (b *binds) libraries(interp string, a arch.Arch) error {
	root := filepath.Join(crossRoot, crossTriplet(a))
	cross := filepath.Join(root, "lib")
	// The loader where the guest looks for it (lib64/ld.so.1 for
	// mips64el), else beside the C library (lib/ld64.so.2 for ppc64le).
	loader := filepath.Join(root, interp)
	if _, err := os.Stat(loader); err != nil {
		loader = filepath.Join(cross, filepath.Base(interp))
	}
	if _, err := os.Stat(loader); err != nil {
		return fmt.Errorf("it asks for %s, and the host has no C library for %s to give it "+
			"(%s: install %s, or build it static)", interp, a.Name, cross, crossLibcPackage(a))
	}
	if err := b.add(loader, interp); err != nil {
		return err
	}
	return b.add(cross, "/lib/"+multiarch(a))
}

// crossRoot holds the host's cross C libraries, TRIPLET/lib (tests
// change it).
var crossRoot = "/usr"

// crossTriplet is a's GNU triplet, as its cross compiler is named.
func crossTriplet(a arch.Arch) string { return strings.TrimSuffix(filepath.Base(a.CrossCC), "-gcc") }

// multiarch is a's directory below /lib and /usr/lib where Debian's
// dynamic loader for it looks: its triplet, but i386-linux-gnu for i386
// (whose cross compiler is i686-linux-gnu-gcc).
func multiarch(a arch.Arch) string {
	if a.DebianArch == "i386" {
		return "i386-linux-gnu"
	}
	return crossTriplet(a)
}

// crossLibcPackage is Debian's package of a's cross C library.
func crossLibcPackage(a arch.Arch) string { return "libc6-" + a.DebianArch + "-cross" }

// hostLibraries shows what ldd says the program at path loads, by
// directory, with the host's ld.so.cache, which names them there.
func (b *binds) hostLibraries(ctx context.Context, path string) error {
	out, err := exec.CommandContext(ctx, "ldd", path).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%v: %s", err, bytes.TrimSpace(exit.Stderr))
		}
		return fmt.Errorf("the libraries of %s (ldd): %w", path, err)
	}
	var dirs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", or the
		// loader itself: "/lib64/ld-linux-x86-64.so.2 (0x...)".
		line := strings.TrimSpace(sc.Text())
		if _, after, ok := strings.Cut(line, "=> "); ok {
			line = after
		}
		lib, _, _ := strings.Cut(line, " (")
		if !filepath.IsAbs(lib) {
			if strings.Contains(lib, "not found") {
				return fmt.Errorf("the libraries of %s: %s", path, line)
			}
			continue // linux-vdso.so.1
		}
		if strings.Contains(sc.Text(), "=>") {
			if d := filepath.Dir(lib); !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
			continue
		}
		if err := b.add(lib, lib); err != nil {
			return err
		}
	}
	for _, d := range dirs {
		if b.covers(d) {
			continue
		}
		if err := b.add(d, d); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/etc/ld.so.cache"); err == nil {
		return b.add("/etc/ld.so.cache", "/etc/ld.so.cache")
	}
	return nil
}

// showsGo says whether a Go toolchain is shown: the host's GOROOT path
// is, or is below, a bind (the host's /usr holds /usr/local/go).
func (b *binds) showsGo() bool {
	dirs := goDirs()
	return len(dirs) > 0 && b.covers(dirs[0])
}

// goDirs are the host's Go toolchain's root and its module cache (both
// absolute directories, else none); none without a go command.
func goDirs() []string { return hostGo().dirs }

// hostGoCache is the host's Go build cache directory ("" for none).
func hostGoCache() string { return hostGo().cache }

// hostGo asks the host's go command, once, for its GOROOT, GOMODCACHE
// and GOCACHE.
var hostGo = sync.OnceValue(func() (g struct {
	dirs  []string
	cache string
}) {
	out, err := exec.Command("go", "env", "GOROOT", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		return g
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		return g
	}
	isDir := func(d string) bool {
		st, err := os.Stat(d)
		return err == nil && st.IsDir() && filepath.IsAbs(d)
	}
	if isDir(lines[0]) && isDir(lines[1]) {
		g.dirs = lines[:2]
	}
	if isDir(lines[2]) {
		g.cache = lines[2]
	}
	return g
})

// goToolchain is a Go distribution for a's guests, of the Go that built
// the program at path, from the module proxy as the go command fetches
// toolchains (golang.org/toolchain, checked against the checksum
// database): "" with no error when path is not a Go program. A Go test
// binary runs its toolchain's go (cilium/ebpf's uprobe tests probe it),
// and the host's is another arch's.
//
// A version the proxy answered it does not have is remembered in
// notServed (a file; "" for none) for a day, so that every exec does not
// ask again.
func goToolchain(ctx context.Context, path string, a arch.Arch, notServed func(version string) string) (string, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil || !strings.HasPrefix(info.GoVersion, "go1.") {
		return "", nil
	}
	goarch := a.Go.GOARCH
	if goarch == "arm" {
		goarch = "armv6l" // the one arm distribution Go publishes
	}
	version := "v0.0.1-" + info.GoVersion + ".linux-" + goarch
	marker := ""
	if notServed != nil {
		marker = notServed(version)
	}
	if st, err := os.Stat(marker); marker != "" && err == nil && time.Since(st.ModTime()) < 24*time.Hour {
		return "", fmt.Errorf("golang.org/toolchain@%s: the module proxy said it has none, %s ago (%s; remove it to ask again)",
			version, time.Since(st.ModTime()).Round(time.Minute), marker)
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", "golang.org/toolchain@"+version)
	cmd.Dir = os.TempDir() // outside any module: no go.mod to consult
	out, err := cmd.Output()
	var got struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &got); jerr == nil && got.Error != "" {
		if marker != "" && strings.Contains(got.Error, "not available") {
			if os.MkdirAll(filepath.Dir(marker), 0o755) == nil {
				_ = os.WriteFile(marker, []byte(got.Error+"\n"), 0o644)
			}
		}
		return "", fmt.Errorf("go mod download golang.org/toolchain@%s: %s", version, got.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download golang.org/toolchain@%s: %w", version, err)
	}
	if st, err := os.Stat(filepath.Join(got.Dir, "bin", "go")); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("golang.org/toolchain@%s: no bin/go in %q", version, got.Dir)
	}
	// Module zips keep no modes: the go command marks a toolchain's
	// programs executable when it switches to one, and so do we.
	for _, sub := range []string{"bin", "pkg/tool"} {
		err := filepath.WalkDir(filepath.Join(got.Dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			if st, err := d.Info(); err != nil || st.Mode()&0o111 != 0 {
				return err
			}
			return os.Chmod(p, 0o555)
		})
		if err != nil {
			return "", fmt.Errorf("golang.org/toolchain@%s: %w", version, err)
		}
	}
	return got.Dir, nil
}
