package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/bpfbuild"
	"github.com/ksystest/ksystest/harness/qemu"
)

// check is one line of the doctor's report.
type check struct {
	name, status, detail string
	// debian and fedora name the packages that fix a missing item.
	debian, fedora string
	// required: ksystest run cannot work without it.
	required bool
}

func cmdDoctor(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("doctor [flags]", `
Check this host for everything ksystest needs: QEMU for each guest arch and
its version, KVM, the Debian mirror and keyring, the cache and its free
space, pahole and xz, the go tool (ksystest builds its guest programs with
it on first use), and, for projects that give BPF sources rather than
objects, clang, llvm-strip and bpftool. Prints what to install for anything
missing, per distribution, and exits 3 when something a run needs is
missing.`, s)
	var af archiveFlags
	af.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	var checks []check
	for _, a := range arch.All() {
		c := check{name: "qemu " + a.Name, debian: a.QEMUPackage, fedora: a.QEMUFedora, required: true}
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
	if mirror, from, err := archive.DiscoverMirror(af.mirror, archive.AptSources); err != nil {
		checks = append(checks, check{name: "debian mirror", status: "MISSING", detail: err.Error(), required: true})
	} else {
		checks = append(checks, check{name: "debian mirror", status: "ok", detail: mirror + " (from " + from + ")"})
	}
	keyring := check{name: "debian keyring", debian: "debian-archive-keyring", fedora: "debian-keyring", required: true}
	if keys, err := archive.LoadKeyring(af.keyring); err != nil {
		keyring.status, keyring.detail = "MISSING", err.Error()
	} else {
		keyring.status, keyring.detail = "ok", fmt.Sprintf("%s (%d keys)", af.keyring, len(keys))
	}
	checks = append(checks, keyring, cacheCheck(af.cacheDir))
	checks = append(checks,
		toolCheck("pahole", "dwarves", "dwarves", true, "BTF for kernels built without it"),
		toolCheck("xz", "xz-utils", "xz", true, "unpacking x86 kernels and -dbg packages"),
		toolCheck("go", "golang-go", "golang", true, "builds ksystest's guest programs on first use (then cached)"),
		toolCheck("clang", "clang", "clang", false, "compiles projects' BPF sources (and make generate)"),
		toolCheck("llvm-strip", "llvm", "llvm", false, "strips compiled BPF objects of DWARF, keeping BTF"),
		bpftoolCheck(ctx, "dumps a vmlinux.h for sources that include one"),
	)

	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CHECK\tSTATUS\tDETAIL\n")
	var debian, fedora []string
	missing := false
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.name, c.status, c.detail)
		if c.status == "MISSING" {
			missing = missing || c.required
			if c.debian != "" {
				debian = append(debian, c.debian)
			}
			if c.fedora != "" {
				fedora = append(fedora, c.fedora)
			}
		}
	}
	tw.Flush()
	if len(debian)+len(fedora) > 0 {
		fmt.Fprintf(s.out, "\nTo install what is missing:\n  Debian, Ubuntu: sudo apt-get install %s\n  Fedora:         sudo dnf install %s\n",
			strings.Join(uniq(debian), " "), strings.Join(uniq(fedora), " "))
		fmt.Fprintf(s.out, "  (on Debian 12 s390x QEMU is in qemu-system-misc; from Debian 13 and Ubuntu 24.04 in qemu-system-s390x)\n")
	}
	if missing {
		return &exitError{code: exitInfra, err: fmt.Errorf("doctor: something ksystest run needs is missing")}
	}
	return nil
}

func qemuVersion(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return path + " (version unknown: " + err.Error() + ")"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

func toolCheck(tool, debian, fedora string, required bool, why string) check {
	c := check{name: tool, debian: debian, fedora: fedora, required: required}
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

// bpftoolCheck finds bpftool as a run does: on PATH, or in Ubuntu's
// kernel tools.
func bpftoolCheck(ctx context.Context, why string) check {
	c := check{name: "bpftool", debian: "bpftool", fedora: "bpftool"}
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
