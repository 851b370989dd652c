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
// commands it ran, in order.
func installDeps(t *testing.T, system, root string, tools []string, env ...string) []string {
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
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// On each system, with nothing of what it installs present, the script
// asks apt two questions and installs exactly these packages, each of
// which apt there can install.
func TestInstallDeps(t *testing.T) {
	// The compilers and static glibc for every guest arch (gcc and
	// libc6-dev for the host's own), the same everywhere.
	toolchains := []string{
		"gcc", "libc6-dev", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross",
		"gcc-i686-linux-gnu", "libc6-dev-i386-cross", "gcc-mips64el-linux-gnuabi64", "libc6-dev-mips64el-cross",
		"gcc-powerpc64le-linux-gnu", "libc6-dev-ppc64el-cross", "gcc-riscv64-linux-gnu", "libc6-dev-riscv64-cross",
		"gcc-s390x-linux-gnu", "libc6-dev-s390x-cross", "qemu-user-static",
	}
	want := func(pkgs ...string) []string { return append(pkgs, toolchains...) }
	for _, tc := range []struct {
		system  string
		install []string
	}{
		// Debian 12 has s390x in qemu-system-misc (qemu-system-s390x
		// is a name it provides, with no candidate of its own).
		{"debian-12", want("debian-archive-keyring", "ca-certificates", "qemu-system-x86", "qemu-system-arm", "qemu-system-misc",
			"qemu-system-mips", "qemu-system-ppc", "dwarves", "xz-utils", "clang", "llvm", "bpftool")},
		{"debian-13", want("debian-archive-keyring", "ca-certificates", "qemu-system-x86", "qemu-system-arm", "qemu-system-s390x",
			"qemu-system-mips", "qemu-system-ppc", "qemu-system-misc", "dwarves", "xz-utils", "clang", "llvm", "bpftool")},
		// Ubuntu has no bpftool package: the generic kernel's tools
		// hold one, under /usr/lib/linux-tools.
		{"ubuntu-22.04", want("debian-archive-keyring", "ca-certificates", "qemu-system-x86", "qemu-system-arm", "qemu-system-s390x",
			"qemu-system-mips", "qemu-system-ppc", "qemu-system-misc", "dwarves", "xz-utils", "clang", "llvm", "linux-tools-generic")},
		{"ubuntu-24.04", want("debian-archive-keyring", "ca-certificates", "qemu-system-x86", "qemu-system-arm", "qemu-system-s390x",
			"qemu-system-mips", "qemu-system-ppc", "qemu-system-misc", "dwarves", "xz-utils", "clang", "llvm", "linux-tools-generic")},
	} {
		t.Run(tc.system, func(t *testing.T) {
			t.Parallel()
			calls := installDeps(t, tc.system, t.TempDir(), nil)
			assert.Equal(t, []string{
				"dpkg --print-architecture",
				"id -u",
				"sudo apt-get update -qq",
				"apt-cache policy qemu-system-s390x",
				"apt-cache policy bpftool",
				"sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends " + strings.Join(tc.install, " "),
			}, calls)
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
// any kernel's tools are.
func TestInstallDepsNothingMissing(t *testing.T) {
	tools := []string{"pahole", "xz", "clang", "llvm-strip", "bpftool", "qemu-aarch64-static"}
	for _, a := range arch.All() {
		tools = append(tools, a.QEMU, a.CrossCC)
	}
	root := t.TempDir()
	for _, f := range []string{"usr/share/keyrings/debian-archive-keyring.gpg", "etc/ssl/certs/ca-certificates.crt"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), nil, 0o644))
	}
	assert.Equal(t, []string{"dpkg --print-architecture"}, installDeps(t, "ubuntu-24.04", root, tools))

	calls := installDeps(t, "ubuntu-24.04", root, tools, bpftoolEnv+"=wrapper")
	assert.Equal(t, "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-tools-generic", calls[len(calls)-1])

	tool := filepath.Join(root, "usr/lib/linux-tools/6.8.0-90-generic/bpftool")
	require.NoError(t, os.MkdirAll(filepath.Dir(tool), 0o755))
	require.NoError(t, os.WriteFile(tool, nil, 0o755))
	assert.Equal(t, []string{"dpkg --print-architecture"}, installDeps(t, "ubuntu-24.04", root, tools, bpftoolEnv+"=wrapper"))
}
