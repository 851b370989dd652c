package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/bpfbuild"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/qemu"
)

// check is one line of the doctor's report.
type check struct {
	name, status, detail string
	// apt and fedora name the packages that fix a missing item: apt's
	// for this host's system (hostSystem.apt).
	apt, fedora string
	// required: ksystest run cannot work without it.
	required bool
}

func cmdDoctor(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("doctor [flags]", `
Check this host for everything ksystest needs: QEMU for each guest arch and
its version, KVM, Debian's and Ubuntu's mirrors and keyrings, the cache and
its free space, pahole and xz, the go tool (ksystest builds its guest
programs with it on first use), gcc and static glibc for each guest arch
(the C workloads), LLVM's linker for the riscv64 libbpf-1.5 helper, and,
for projects that give BPF sources rather than objects, clang, llvm-strip
and bpftool. Prints what to install for anything missing, with the package
names of this host's system (Debian 12 and 13, Ubuntu 22.04 and 24.04
differ), and exits 3 when something a run needs is missing.`, s)
	var af archiveFlags
	af.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	sys := readHostSystem("/etc/os-release")
	var checks []check
	for _, a := range arch.All() {
		c := check{name: "qemu " + a.Name, apt: sys.qemuPackage(a), fedora: a.QEMUFedora, required: true}
		if path, err := exec.LookPath(a.QEMU); err != nil {
			c.status, c.detail = "MISSING", a.QEMU+" not on PATH"
		} else {
			c.status, c.detail = "ok", qemuVersion(ctx, path)
		}
		checks = append(checks, c)
	}
	if host, err := arch.ByGOARCH(runtime.GOARCH); err == nil {
		accel, why := qemu.ChooseAccel(host, qemu.KVMProbe{Device: "/dev/kvm", CPUInfo: "/proc/cpuinfo"})
		status := "ok"
		if accel != qemu.AccelKVM {
			status = "tcg"
		}
		checks = append(checks, check{name: "kvm", status: status, detail: fmt.Sprintf("%s guests: %s (%s)", host.Name, accel, why)})
	}
	checks = append(checks,
		mirrorCheck(archive.Debian, af.mirror, "", check{name: "debian mirror", required: true}),
		keyringCheck(archive.Debian, af.keyring, check{name: "debian keyring", apt: "debian-archive-keyring", fedora: "debian-keyring", required: true}),
		// On a host whose apt sources name no Ubuntu mirror (any but
		// Ubuntu), debootstrap's Ubuntu script names the default one.
		mirrorCheck(archive.Ubuntu, af.ubuntu.Mirror, archive.DebootstrapScripts,
			check{name: "ubuntu mirror", apt: "debootstrap", fedora: "debootstrap", required: true}),
		ubuntuKeyringCheck(af.ubuntu.Keyring),
		cacheCheck(af.cacheDir),
		toolCheck("pahole", "dwarves", "dwarves", true, "BTF for kernels built without it"),
		toolCheck("xz", "xz-utils", "xz", true, "unpacking x86 kernels and -dbg packages"),
		toolCheck("go", "golang-go", "golang", true, "builds ksystest's guest programs on first use (then cached)"),
	)
	for _, a := range arch.All() {
		checks = append(checks, toolchainCheck(ctx, a))
	}
	checks = append(checks,
		lldCheck(ctx, sys),
		toolCheck("clang", "clang", "clang", false, "compiles projects' BPF sources (and make generate)"),
		toolCheck("llvm-strip", "llvm", "llvm", false, "strips compiled BPF objects of DWARF, keeping BTF"),
		bpftoolCheck(ctx, sys, "dumps a vmlinux.h for sources that include one"),
	)

	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CHECK\tSTATUS\tDETAIL\n")
	var apt, fedora []string
	missing := false
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.name, c.status, c.detail)
		if c.status == "MISSING" || c.status == "absent" {
			missing = missing || (c.required && c.status == "MISSING")
			apt = append(apt, strings.Fields(c.apt)...)
			fedora = append(fedora, strings.Fields(c.fedora)...)
		}
	}
	tw.Flush()
	if len(apt)+len(fedora) > 0 {
		fmt.Fprintf(s.out, "\nTo install what is missing or absent:\n")
		if sys.known() {
			fmt.Fprintf(s.out, "  %s: sudo apt-get install %s\n", sys.name, strings.Join(uniq(apt), " "))
		} else {
			fmt.Fprintf(s.out, "  Debian, Ubuntu: sudo apt-get install %s\n", strings.Join(uniq(apt), " "))
			fmt.Fprintf(s.out, "  (s390x's QEMU is qemu-system-misc on Debian 12; Ubuntu's bpftool is in linux-tools-generic; an lld of LLVM %d or newer is lld-19 on Debian 12, lld elsewhere, none on Ubuntu 22.04)\n", guestbuild.MinLLD)
			fmt.Fprintf(s.out, "  Fedora:         sudo dnf install %s\n", strings.Join(uniq(fedora), " "))
		}
	}
	if missing {
		return &exitError{code: exitInfra, err: fmt.Errorf("doctor: something ksystest run needs is missing")}
	}
	return nil
}

// hostSystem is the host's distribution and release, as its os-release
// says: Debian and Ubuntu name some packages differently, and differently
// per release.
type hostSystem struct {
	// id is os-release's ID ("debian", "ubuntu"); major the first number
	// of its VERSION_ID (12, 24), 0 where it has none (Debian testing).
	id    string
	major int
	// name is its PRETTY_NAME.
	name string
}

func readHostSystem(path string) hostSystem {
	var sys hostSystem
	f, err := os.Open(path)
	if err != nil {
		return sys
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			sys.id = v
		case "VERSION_ID":
			major, _, _ := strings.Cut(v, ".")
			sys.major, _ = strconv.Atoi(major)
		case "PRETTY_NAME":
			sys.name = v
		}
	}
	if sys.name == "" {
		sys.name = sys.id
	}
	return sys
}

// known says whether the doctor knows this system's package names.
func (h hostSystem) known() bool { return h.id == "debian" || h.id == "ubuntu" }

// debian12 is Debian 12 or older (0 is testing or unstable: newer).
func (h hostSystem) debian12() bool { return h.id == "debian" && h.major > 0 && h.major <= 12 }

// qemuPackage is the package of a's QEMU here: s390x's is
// qemu-system-misc on Debian 12 (the arch table's name) and a package of
// its own from Debian 13 and on Ubuntu.
func (h hostSystem) qemuPackage(a arch.Arch) string {
	if a.QEMU == "qemu-system-s390x" && h.known() && !h.debian12() {
		return "qemu-system-s390x"
	}
	return a.QEMUPackage
}

// lldPackage is the package of an lld of LLVM guestbuild.MinLLD or newer
// here (as .ci/install-deps picks it): lld-19 on Debian 12, whose lld is
// 14; lld on Debian 13 (19) and Ubuntu 24.04 (18); none on Ubuntu 22.04,
// which has lld-15 at most.
func (h hostSystem) lldPackage() string {
	switch {
	case h.debian12() || !h.known():
		return "lld-19"
	case h.id == "ubuntu" && h.major > 0 && h.major < 24:
		return ""
	}
	return "lld"
}

func qemuVersion(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return path + " (version unknown: " + err.Error() + ")"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

// mirrorCheck finds d's mirror as a run does (flag, environment, the
// host's apt sources, then debootstrap's scripts where scripts names
// them); a run asks for Ubuntu's only when a target boots Ubuntu's kernel.
func mirrorCheck(d *archive.Distro, flag, scripts string, c check) check {
	if mirror, from, err := d.DiscoverMirror(flag, archive.AptSources, scripts); err != nil {
		c.status, c.detail = "MISSING", err.Error()
	} else {
		c.status, c.detail = "ok", mirror+" (from "+from+")"
		c.apt, c.fedora = "", ""
	}
	return c
}

func keyringCheck(d *archive.Distro, path string, c check) check {
	if keys, err := d.LoadKeyring(path); err != nil {
		c.status, c.detail = "MISSING", err.Error()
	} else {
		c.status, c.detail = "ok", fmt.Sprintf("%s (%d keys)", path, len(keys))
	}
	return c
}

// ubuntuKeyringCheck loads Ubuntu's keyring as a run finds it: the one
// given, else the host's; a host without one (Debian 12) needs nothing, as
// a run then takes it out of Debian's ubuntu-keyring package.
func ubuntuKeyringCheck(given string) check {
	c := check{name: "ubuntu keyring", apt: "ubuntu-keyring", required: true}
	path := given
	if path == "" {
		path = archive.UbuntuKeyring
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			c.status, c.detail = "ok", "none on this host ("+path+", package ubuntu-keyring): taken from Debian's ubuntu-keyring package on first use, verified through Debian's signed index, and cached"
			return c
		}
	}
	return keyringCheck(archive.Ubuntu, path, c)
}

func toolCheck(tool, apt, fedora string, required bool, why string) check {
	c := check{name: tool, apt: apt, fedora: fedora, required: required}
	if path, err := exec.LookPath(tool); err != nil {
		c.status, c.detail = "MISSING", why
		if !required {
			c.status = "absent"
		}
	} else {
		c.status, c.detail = "ok", path+" ("+why+")"
	}
	return c
}

// toolchainCheck finds a's C compiler and static C library as a build of
// the C workloads does. Fedora's cross compilers have no C library.
func toolchainCheck(ctx context.Context, a arch.Arch) check {
	c := check{name: "cc " + a.Name, required: true}
	tc, err := guestbuild.FindToolchain(ctx, a)
	var missing *guestbuild.MissingToolchainError
	switch {
	case errors.As(err, &missing):
		c.status, c.detail, c.apt = "MISSING", missing.Missing+" (the C workloads)", strings.Join(missing.Packages, " ")
	case err != nil:
		c.status, c.detail = "MISSING", err.Error()
	default:
		c.status, c.detail = "ok", tc.Version+", "+filepath.Clean(tc.Libc)
	}
	return c
}

// lldCheck finds the ld.lld riscv64's libbpf-1.5 helper is linked with:
// without one, riscv64 targets run no libbpf-1.5 case, and say so.
func lldCheck(ctx context.Context, sys hostSystem) check {
	c := check{name: "ld.lld", apt: sys.lldPackage(), fedora: "lld"}
	path, version, err := guestbuild.LLD(ctx)
	if err == nil {
		c.status, c.detail = "ok", path+", "+version+" (links the riscv64 libbpf-1.5 helper)"
		return c
	}
	c.status, c.detail = "absent", err.Error()+": riscv64 targets run no libbpf-1.5 case"
	if sys.known() && c.apt == "" {
		c.detail += "; " + sys.name + " packages none"
	}
	return c
}

// bpftoolCheck finds bpftool as a run does: on PATH, or in Ubuntu's
// kernel tools (linux-tools-generic: Ubuntu has no bpftool package).
func bpftoolCheck(ctx context.Context, sys hostSystem, why string) check {
	c := check{name: "bpftool", apt: "bpftool", fedora: "bpftool"}
	if sys.id == "ubuntu" {
		c.apt = "linux-tools-generic"
	}
	if path, err := bpfbuild.Bpftool(ctx, bpfbuild.LinuxToolsBpftool); err != nil {
		c.status, c.detail = "absent", why+": "+err.Error()
	} else {
		c.status, c.detail = "ok", path+" ("+why+")"
	}
	return c
}

func cacheCheck(dir string) check {
	c := check{name: "cache", status: "ok"}
	probe := dir
	for {
		if _, err := os.Stat(probe); err == nil {
			break
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			break
		}
		probe = parent
	}
	var st unix.Statfs_t
	if err := unix.Statfs(probe, &st); err != nil {
		c.status, c.detail = "?", dir+": "+err.Error()
		return c
	}
	free := st.Bavail * uint64(st.Bsize)
	c.detail = fmt.Sprintf("%s, %.1f GiB free", dir, float64(free)/(1<<30))
	if free < 4<<30 {
		c.status = "LOW"
		c.detail += " (kernels and -dbg packages for the default matrix want about 4 GiB)"
	}
	return c
}

func uniq(xs []string) []string {
	sort.Strings(xs)
	var out []string
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
