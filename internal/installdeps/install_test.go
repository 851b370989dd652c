package installdeps

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The stubs are this test binary under the names of the commands the
// script calls; a stub knows it is one by the log it writes to.
const (
	answersEnv = "INSTALLDEPS_ANSWERS" // the system's captured answers
	logEnv     = "INSTALLDEPS_LOG"     // one line per command the script ran
	sudoEnv    = "INSTALLDEPS_SUDO"    // set by the sudo stub for what it runs
	bpftoolEnv = "INSTALLDEPS_BPFTOOL" // "wrapper": bpftool is Ubuntu's wrapper without tools
	lldEnv     = "INSTALLDEPS_LLD"     // what ld.lld --version says, when not LLD 19
)

// replayed are the commands whose answers come from the capture.
var replayed = []string{"apt-cache", "dpkg", "uname"}

func TestMain(m *testing.M) {
	if os.Getenv(logEnv) != "" {
		os.Exit(stub(filepath.Base(os.Args[0]), os.Args[1:]))
	}
	os.Exit(m.Run())
}

// stub acts as the command name: the apt tools, id and sudo as on a
// system where the script runs as a user with sudo; any other name is a
// tool the script looks for, present and working.
func stub(name string, args []string) int {
	line := strings.Join(append([]string{name}, args...), " ")
	if name == "apt-get" {
		if v := os.Getenv("DEBIAN_FRONTEND"); v != "" {
			line = "DEBIAN_FRONTEND=" + v + " " + line
		}
	}
	if os.Getenv(sudoEnv) != "" {
		line = "sudo " + line
	}
	logLine := func(line string) {
		f, err := os.OpenFile(os.Getenv(logEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		fmt.Fprintln(f, line)
	}
	switch {
	case name == "apt-get":
		logLine(line)
		return 0
	case name == "id" && line == "id -u":
		logLine(line)
		fmt.Println(1000)
		return 0
	case name == "sudo":
		// As sudo's env_reset does: the caller's environment is
		// not passed on.
		var env []string
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "INSTALLDEPS_") {
				env = append(env, kv)
			}
		}
		path, err := exec.LookPath(args[0])
		if err != nil {
			logLine("sudo: " + err.Error())
			return 1
		}
		if err := syscall.Exec(path, args, append(env, sudoEnv+"=1")); err != nil {
			logLine("sudo: " + err.Error())
		}
		return 1
	case slices.Contains(replayed, name):
		logLine(line)
		answers, err := readAnswers(os.Getenv(answersEnv))
		if err != nil {
			logLine("NOT CAPTURED: " + err.Error())
			return 100
		}
		answer, ok := answers[line]
		if !ok {
			logLine("NOT CAPTURED: " + line + " (run capture.sh)")
			return 100
		}
		// As apt-cache does, the answer is written a line at a time,
		// and more comes after the candidate's line: a reader that
		// stops there (grep -q) kills the writer with SIGPIPE.
		for l := range strings.Lines(answer) {
			os.Stdout.WriteString(strings.TrimSuffix(l, "\n") + "\n")
			if strings.Contains(l, "Candidate:") {
				time.Sleep(20 * time.Millisecond)
			}
		}
		return 0
	case line == "ld.lld --version":
		says := os.Getenv(lldEnv)
		if says == "" {
			says = "Debian LLD 19.1.7 (compatible with GNU linkers)"
		}
		fmt.Println(says)
		return 0
	case name == "bpftool" && os.Getenv(bpftoolEnv) == "wrapper":
		fmt.Fprintln(os.Stderr, "WARNING: bpftool not found for kernel 6.8.0-1021-azure")
		return 2
	case strings.HasSuffix(name, "gcc") && line == name+" -print-file-name=libc.a":
		fmt.Println("/usr/lib/x86_64-linux-gnu/libc.a")
		return 0
	}
	return 0
}

// readAnswers reads a capture: comment lines, then each command line
// after "$ " followed by its output.
func readAnswers(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	answers := map[string]string{}
	var cmd string
	var out []string
	flush := func() {
		if cmd != "" {
			answers[cmd] = strings.TrimRight(strings.Join(out, "\n"), "\n")
		}
	}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "$ "):
			flush()
			cmd, out = strings.TrimPrefix(line, "$ "), nil
		case cmd != "":
			out = append(out, line)
		case strings.HasPrefix(line, "#"):
		default:
			return nil, fmt.Errorf("%s: %q before the first command", path, line)
		}
	}
	flush()
	return answers, s.Err()
}

// installDeps runs the script with only the stubs and tools on PATH and
// root as the root its files are looked for under, and returns the
// commands it ran, in order, and what it printed.
func installDeps(t *testing.T, system, root string, tools []string, env ...string) (calls []string, printed string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	bin := t.TempDir()
	for _, name := range append([]string{"apt-cache", "apt-get", "dpkg", "uname", "id", "sudo"}, tools...) {
		require.NoError(t, os.Symlink(self, filepath.Join(bin, name)))
	}
	for _, name := range []string{"bash", "env"} { // the shebang's, and the script's
		path, err := exec.LookPath(name)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(path, filepath.Join(bin, name)))
	}
	log := filepath.Join(t.TempDir(), "log")
	cmd := exec.Command("../../.ci/install-deps")
	cmd.Env = append([]string{
		"PATH=" + bin, "INSTALL_DEPS_ROOT=" + root,
		answersEnv + "=" + filepath.Join("testdata", system+".txt"), logEnv + "=" + log,
	}, env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n"), string(out)
}

// noLLD is what the script says where apt has no lld new enough.
const noLLD = "install-deps: apt has no lld 18 or newer here: without one ksystest cannot link the riscv64 libbpf-1.5 helper, and riscv64 targets run no libbpf-1.5 cases (their notes say so)\n"

// On each system, with nothing of what it installs present, the script
// asks apt which packages hold s390x's QEMU, bpftool and an lld 18 or
// newer, and installs exactly these packages, each of which apt there can
// install.
func TestInstallDeps(t *testing.T) {
	// The compilers and static glibc for every guest arch (gcc and
	// libc6-dev for the host's own), the same everywhere.
	toolchains := []string{
		"gcc", "libc6-dev", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross",
		"gcc-i686-linux-gnu", "libc6-dev-i386-cross", "gcc-mips64el-linux-gnuabi64", "libc6-dev-mips64el-cross",
		"gcc-powerpc64le-linux-gnu", "libc6-dev-ppc64el-cross", "gcc-riscv64-linux-gnu", "libc6-dev-riscv64-cross",
		"gcc-s390x-linux-gnu", "libc6-dev-s390x-cross", "qemu-user-static", "cpio",
	}
	want := func(pkgs ...string) []string { return append(pkgs, toolchains...) }
	// Ubuntu's kernels come from the mirror debootstrap's scripts
	// name, on a host whose apt sources name none: any but Ubuntu.
	debian := func(pkgs ...string) []string { return append(want(pkgs...), "debootstrap") }
	for _, tc := range []struct {
		system string
		// lld are the lld packages it asks about.
		lld     []string
		install []string
		printed string
	}{
		// Debian 12 has s390x in qemu-system-misc (qemu-system-s390x
		// is a name it provides, with no candidate of its own), and
		// lld 14 by default: lld-19 is the one that links riscv64.
		{system: "debian-12", lld: []string{"lld", "lld-19"},
			install: debian("debian-archive-keyring", "ca-certificates", "qemu-system-x86", "qemu-system-arm", "qemu-system-misc",
				"qemu-system-mips", "qemu-system-ppc", "dwarves", "xz-utils", "clang", "llvm", "bpftool", "lld-19")},
		// Debian 13's lld is 19.
		{system: "debian-13", lld: []string{"lld"},
			install: debian("debian-archive-keyring", "ca-certificates", "qemu-system-x86", "qemu-system-arm", "qemu-system-s390x",
				"qemu-system-mips", "qemu-system-ppc", "qemu-system-misc", "dwarves", "xz-utils", "clang", "llvm", "bpftool", "lld")},
		// Ubuntu has no bpftool package: the generic kernel's tools
		// hold one, under /usr/lib/linux-tools. Ubuntu 22.04 has no
		// lld newer than 15, and says so.
		{system: "ubuntu-22.04", lld: []string{"lld", "lld-19"}, printed: noLLD,
			install: want("debian-archive-keyring", "ca-certificates", "qemu-system-x86", "qemu-system-arm", "qemu-system-s390x",
				"qemu-system-mips", "qemu-system-ppc", "qemu-system-misc", "dwarves", "xz-utils", "clang", "llvm", "linux-tools-generic")},
		// Ubuntu 24.04's lld is 18, the LLVM of its clang.
		{system: "ubuntu-24.04", lld: []string{"lld"},
			install: want("debian-archive-keyring", "ca-certificates", "qemu-system-x86", "qemu-system-arm", "qemu-system-s390x",
				"qemu-system-mips", "qemu-system-ppc", "qemu-system-misc", "dwarves", "xz-utils", "clang", "llvm", "linux-tools-generic", "lld")},
	} {
		t.Run(tc.system, func(t *testing.T) {
			t.Parallel()
			// Nothing installed: an empty root with only the
			// system's os-release, as capture.sh ran it.
			root := t.TempDir()
			id, _, _ := strings.Cut(tc.system, "-")
			require.NoError(t, os.Mkdir(filepath.Join(root, "etc"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID="+id+"\n"), 0o644))
			calls, printed := installDeps(t, tc.system, root, nil)
			asked := []string{
				"dpkg --print-architecture",
				"id -u",
				"sudo apt-get update -qq",
				"apt-cache policy qemu-system-s390x",
				"apt-cache policy bpftool",
			}
			for _, p := range tc.lld {
				asked = append(asked, "apt-cache policy "+p)
			}
			asked = append(asked, "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "+strings.Join(tc.install, " "))
			assert.Equal(t, asked, calls)
			assert.Equal(t, tc.printed+"install-deps: installing "+strings.Join(tc.install, " ")+"\n", printed)
			answers, err := readAnswers(filepath.Join("testdata", tc.system+".txt"))
			require.NoError(t, err)
			for _, p := range tc.install {
				assert.Regexp(t, `Candidate: [0-9]`, answers["apt-cache policy "+p], "%s: apt has no installation candidate for %s", tc.system, p)
			}
		})
	}
}

// Where everything is present the script asks apt nothing. Ubuntu's
// bpftool wrapper without the running kernel's tools is not a bpftool;
// any kernel's tools are. An lld older than 18 is not the linker it
// wants; where apt has none newer, it says so without updating apt's
// lists, on every run.
func TestInstallDepsNothingMissing(t *testing.T) {
	tools := []string{"pahole", "xz", "clang", "llvm-strip", "bpftool", "ld.lld", "qemu-aarch64-static", "cpio"}
	for _, a := range arch.All() {
		tools = append(tools, a.QEMU, a.CrossCC)
	}
	root := t.TempDir()
	touch := func(f string, mode os.FileMode) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), nil, mode))
	}
	touch("usr/share/keyrings/debian-archive-keyring.gpg", 0o644)
	touch("etc/ssl/certs/ca-certificates.crt", 0o644)
	touch("usr/share/debootstrap/scripts/gutsy", 0o644)
	nothing := []string{"dpkg --print-architecture"}
	calls, printed := installDeps(t, "ubuntu-24.04", root, tools)
	assert.Equal(t, nothing, calls)
	assert.Empty(t, printed)

	calls, _ = installDeps(t, "ubuntu-24.04", root, tools, bpftoolEnv+"=wrapper")
	assert.Equal(t, "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-tools-generic", calls[len(calls)-1])

	touch("usr/lib/linux-tools/6.8.0-90-generic/bpftool", 0o755)
	calls, _ = installDeps(t, "ubuntu-24.04", root, tools, bpftoolEnv+"=wrapper")
	assert.Equal(t, nothing, calls)

	// lld 14 on PATH (Debian's and Ubuntu's default lld) and in
	// /usr/lib/llvm-14.
	old := lldEnv + "=Ubuntu LLD 14.0.0 (compatible with GNU linkers)"
	touch("usr/lib/llvm-14/bin/ld.lld", 0o755)
	calls, printed = installDeps(t, "ubuntu-22.04", root, tools, old)
	assert.Equal(t, []string{"dpkg --print-architecture", "id -u", "apt-cache policy lld", "apt-cache policy lld-19"}, calls, "no lld new enough: apt's lists not updated")
	assert.Equal(t, noLLD, printed)
	calls, printed = installDeps(t, "debian-12", root, tools, old)
	assert.Equal(t, []string{
		"dpkg --print-architecture", "id -u", "apt-cache policy lld", "apt-cache policy lld-19",
		"sudo apt-get update -qq", "apt-cache policy qemu-system-s390x", "apt-cache policy bpftool",
		"sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lld-19",
	}, calls)
	assert.Equal(t, "install-deps: installing lld-19\n", printed)

	touch("usr/lib/llvm-18/bin/ld.lld", 0o755)
	calls, _ = installDeps(t, "ubuntu-22.04", root, tools, old)
	assert.Equal(t, nothing, calls, "lld 18 in /usr/lib/llvm-18")
}
