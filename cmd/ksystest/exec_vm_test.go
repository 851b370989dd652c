package main

// VM tests of ksystest exec as users run it: the installed binary, its
// exit status, stdout and stderr, from a project directory of its own;
// and go test -exec with it. One guest at a time.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/internal/vmtest"
)

// execProject is a directory with a program for a's guests and a
// testdata file the program reads from its copy.
func execProject(t *testing.T, a arch.Arch) string {
	t.Helper()
	dir := t.TempDir()
	prog := vmtest.GoBuild(t, "../../internal/cmd/exectest", a.Go)
	data, err := os.ReadFile(prog)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "exectest"), data, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "testdata"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "testdata/hello.txt"), []byte("from the host\n"), 0o644))
	return dir
}

func mustLookup(t *testing.T, name string) arch.Arch {
	t.Helper()
	a, err := arch.Lookup(name)
	require.NoError(t, err)
	return a
}

// On every default target: the exit status, stdout and stderr apart, the
// copy of the directory as the working directory, root, the mounts and
// --env. On the first target of each arch also: a kernel panic and a
// program that never ends give their own statuses, with what the program
// wrote before.
func TestVMExec(t *testing.T) {
	targets := defaultTargets(t)
	requireExecVMs(t, targets...)
	seenArch := map[string]bool{}
	for _, tg := range targets {
		t.Run(tg.Name, func(t *testing.T) {
			dir := execProject(t, mustLookup(t, tg.Arch))
			t.Run("report", func(t *testing.T) {
				code, stdout, stderr := ksystestIn(t, dir, "exec", "--target", tg.Name, "--env", "EXECTEST_WHERE=guest", "./exectest", "report", "7")
				require.Equal(t, 7, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
				for _, want := range []string{
					"cwd=" + dir + "\n", "uid=0\n", "args=./exectest report 7\n", "exe=" + dir + "/exectest\n",
					"hello=from the host\n", "env EXECTEST_WHERE=guest\n", "tmp writable=true\n", "loopback=<nil>\n",
					"mount proc /proc\n", "mount sysfs /sys\n", "mount devtmpfs /dev\n",
					"mount tracefs /sys/kernel/tracing\n", "mount debugfs /sys/kernel/debug\n", "mount bpf /sys/fs/bpf\n",
				} {
					assert.Contains(t, stdout, want)
				}
				assert.NotContains(t, stdout, "exectest: to stderr")
				assert.Equal(t, "exectest: to stderr\n", stderr, "stderr is the program's alone")
			})
			if seenArch[tg.Arch] {
				return
			}
			seenArch[tg.Arch] = true
			t.Run("kernel-panic", func(t *testing.T) {
				code, stdout, stderr := ksystestIn(t, dir, "exec", "--target", tg.Name, "./exectest", "panic-kernel")
				assert.Equal(t, execCrash, code)
				assert.Equal(t, "exectest: crashing the kernel\n", stdout)
				assert.Contains(t, stderr, "Kernel panic - not syncing: sysrq triggered crash", "the console's tail")
				assert.Contains(t, stderr, "exec "+tg.Name+": crash: kernel: ")
			})
			t.Run("hang", func(t *testing.T) {
				code, stdout, stderr := ksystestIn(t, dir, "exec", "--target", tg.Name, "--timeout", "3s", "./exectest", "hang")
				assert.Equal(t, execTimeout, code)
				assert.Equal(t, "exectest: hanging\n", stdout)
				assert.Contains(t, stderr, "exec "+tg.Name+": timeout: the program was still running 3s after it started")
			})
		})
	}
}

// Ctrl-C stops the guest in order: ksystest exits 130 and leaves no QEMU.
func TestVMExecInterrupt(t *testing.T) {
	tg := targetNamed(t, "arm64-6.1")
	requireExecVMs(t, tg)
	dir := execProject(t, mustLookup(t, "arm64"))
	marker := fmt.Sprintf("ksystest.exectest=%d", time.Now().UnixNano())
	cmd := exec.Command(install(t), "exec", "--target", tg.Name, "--kernel-append", marker, "./exectest", "hang")
	cmd.Dir = dir
	stdout := &vmtest.Buffer{}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(stdout.String(), "exectest: hanging") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.Contains(t, stdout.String(), "exectest: hanging")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, stderr.String())
	assert.Equal(t, execInterrupted, ee.ExitCode(), stderr.String())
	assert.Empty(t, vmtest.ProcessesWith(t, marker), "QEMU left running")
}

// go test -exec runs a real third-party package that needs BPF and root,
// from the module cache (cilium/ebpf, a dependency: its root package,
// whose tests read its testdata, and ringbuf), on arm64 and s390x, and it
// passes; a failing test fails go test with the test's output.
func TestVMGoTestExec(t *testing.T) {
	for _, tc := range []struct {
		target, goarch, flag string
	}{
		{"arm64-6.1", "arm64", "6.1"},   // a kernel only: the arch comes from the binary
		{"s390x-6.12", "s390x", "6.12"}, // big-endian: the -eb testdata objects
	} {
		t.Run(tc.target, func(t *testing.T) {
			requireExecVMs(t, targetNamed(t, tc.target))
			out, code := goTest(t, tc.goarch, "ksystest exec --target "+tc.flag,
				"-v", "-run", "^(TestLoadCollectionSpec|TestLoadRawTracepoint|TestTailCall|TestMapWithLock|TestKconfig|TestKsym|TestRingbufReader|TestReaderBlocking)$",
				"github.com/cilium/ebpf", "github.com/cilium/ebpf/ringbuf")
			require.Equal(t, 0, code, out)
			for _, test := range []string{"TestLoadCollectionSpec", "TestLoadRawTracepoint", "TestTailCall", "TestMapWithLock", "TestKconfig", "TestKsym", "TestRingbufReader", "TestReaderBlocking"} {
				assert.Contains(t, out, "--- PASS: "+test+" ", "%s ran and passed", test)
			}
			assert.Contains(t, out, "ok  \tgithub.com/cilium/ebpf\t")
			assert.Contains(t, out, "ok  \tgithub.com/cilium/ebpf/ringbuf\t")
		})
	}
	t.Run("failing test", func(t *testing.T) {
		requireExecVMs(t, targetNamed(t, "arm64-6.1"))
		out, code := goTest(t, "arm64", "ksystest exec", "-run", "TestInGuest|TestFails", "./testdata/gotest")
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "this test fails on purpose")
		assert.Contains(t, out, "--- FAIL: TestFails")
		assert.Contains(t, out, "FAIL\tgithub.com/ksystest/ksystest/cmd/ksystest/testdata/gotest")
		assert.NotContains(t, out, "--- FAIL: TestInGuest", "its testdata was there, as root")
	})
}

// The guest is a machine cilium/ebpf's own tests pass on, with no flag
// beyond --target: on the host's arch with the cgo (dynamically linked)
// test binaries go test builds by default, the host's /usr, bash and Go;
// on arm64 with the host's cross C library, Debian's arm64 bash and
// Go's arm64 toolchain. The tests that failed for want of the machine
// (cgroup2, /bin/bash, a Go binary to probe, module BTF, two CPUs, the
// module's shared testdata) pass.
func TestVMGoTestExecRealMachine(t *testing.T) {
	for _, tc := range []struct {
		target, goarch, cgo string
	}{
		{"x86_64-6.12", "amd64", "1"},
		{"arm64-6.12", "arm64", "0"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			requireExecVMs(t, targetNamed(t, tc.target))
			env := []string{"GOARCH=" + tc.goarch, "CGO_ENABLED=" + tc.cgo}
			link := []string{"TestDetachLinkFail", "TestUprobeProgramCall", "TestExecutable", "TestAttachCgroup", "TestLinkCgroup"}
			out, code := goTestEnv(t, env, "ksystest exec --target "+tc.target,
				"-v", "-run", "^("+strings.Join(link, "|")+"|TestParseModuleSplitSpec)$",
				"github.com/cilium/ebpf/link", "github.com/cilium/ebpf/btf")
			require.Equal(t, 0, code, out)
			for _, test := range append(link, "TestUprobeProgramCall/bash", "TestUprobeProgramCall/go-binary", "TestParseModuleSplitSpec") {
				assert.Regexp(t, `--- PASS: `+test+` `, out, "%s ran and passed", test)
			}

			dynamic := map[string]string{"1": "--env GOTEST_DYNAMIC=1 ", "0": ""}[tc.cgo]
			out, code = goTestEnv(t, env, "ksystest exec --target "+tc.target+" --modules dummy --env GOTEST_MODULES=dummy "+dynamic,
				"-v", "-run", "^TestGuestMachine$", "./testdata/gotest")
			require.Equal(t, 0, code, out)
			assert.Contains(t, out, "--- PASS: TestGuestMachine ")
		})
	}
}

// goTest runs go test -exec with the installed ksystest for goarch, one
// package at a time (one guest at a time), and returns its output and
// exit code.
func goTest(t *testing.T, goarch, execCmd string, args ...string) (string, int) {
	t.Helper()
	return goTestEnv(t, []string{"GOARCH=" + goarch, "CGO_ENABLED=0"}, execCmd, args...)
}

// goTestEnv is goTest with env (GOARCH=, CGO_ENABLED=) as given.
func goTestEnv(t *testing.T, env []string, execCmd string, args ...string) (string, int) {
	t.Helper()
	bin := install(t)
	execCmd = strings.Replace(execCmd, "ksystest", bin, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"test", "-count=1", "-p=1", "-exec", execCmd}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := statusOf(t, cmd.Run())
	t.Logf("%s go test -exec '%s' %s: exit %d\n%s", strings.Join(env, " "), execCmd, strings.Join(args, " "), code, out.String())
	return out.String(), code
}

// requireExecVMs: exec needs QEMU for the targets' arches, the keyring
// and go, no BPF compiler.
func requireExecVMs(t *testing.T, targets ...matrix.Target) {
	t.Helper()
	var arches []string
	for _, tg := range targets {
		arches = append(arches, tg.Arch)
	}
	vmtest.Require(t, arches)
}

func targetNamed(t *testing.T, name string) matrix.Target {
	t.Helper()
	for _, tg := range defaultTargets(t) {
		if tg.Name == name {
			return tg
		}
	}
	t.Fatalf("no default target %s", name)
	return matrix.Target{}
}
