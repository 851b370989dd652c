package main

// VM tests of ksystest as its users run it: an installed binary, run from
// a directory outside this checkout, on a project of their own. They share
// the user's cache (~/.cache/ksystest) with every other run.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ksystest "github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/internal/vmtest"
)

var (
	installOnce sync.Once
	installed   string
	installErr  error
)

// TestMain removes the installed ksystest once every test is done.
func TestMain(m *testing.M) {
	code := m.Run()
	if installed != "" {
		os.RemoveAll(filepath.Dir(installed))
	}
	os.Exit(code)
}

// install go-installs ksystest into a directory of its own, once per test
// binary: what `go install github.com/ksystest/ksystest/cmd/ksystest@…`
// gives a user.
func install(t *testing.T) string {
	t.Helper()
	installOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ksystest-bin-")
		if err != nil {
			installErr = err
			return
		}
		cmd := exec.Command("go", "install", ".")
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = &exec.ExitError{Stderr: out}
			return
		}
		installed = filepath.Join(dir, "ksystest")
	})
	require.NoError(t, installErr)
	return installed
}

// ksystestIn runs the installed ksystest in dir and returns its exit code,
// stdout and stderr.
func ksystestIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, install(t), args...)
	cmd.Dir = dir
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	code := statusOf(t, cmd.Run())
	t.Logf("ksystest %s: exit %d\n%s", strings.Join(args, " "), code, errs.String())
	return code, out.String(), errs.String()
}

// project copies example or testdata directories into a fresh directory
// outside the checkout.
func project(t *testing.T, from ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range from {
		ents, err := os.ReadDir(f)
		require.NoError(t, err)
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(f, e.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644))
		}
	}
	return dir
}

func readResults(t *testing.T, file string) *result.Run {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var r result.Run
	require.NoError(t, json.Unmarshal(data, &r))
	return &r
}

func defaultTargets(t *testing.T) []matrix.Target {
	t.Helper()
	m, err := matrix.LoadBuiltin(ksystest.Data)
	require.NoError(t, err)
	return m.Targets.List
}

func requireVMs(t *testing.T, targets []matrix.Target) {
	t.Helper()
	var arches []string
	for _, tg := range targets {
		arches = append(arches, tg.Arch)
	}
	vmtest.Require(t, arches, "clang", "llvm-strip", "bpftool")
}

// The example project, run as its README says from a directory of its own
// with an installed ksystest, passes on every target of the default
// matrix: readings from globals, a rodata PID filter, differ expectations
// and several capture sets per call, each checked.
func TestVMExampleOutsideCheckout(t *testing.T) {
	targets := defaultTargets(t)
	requireVMs(t, targets)
	dir := project(t, "../../examples/syscall-macro")
	code, _, errs := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--out", "out")
	require.Equal(t, 0, code, errs)

	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, len(targets))
	differs, refused := 0, map[string]int{}
	for _, c := range r.Cells {
		assert.Equal(t, result.OutcomePass, c.Outcome, "%s: %s", c.Target, c.Reason)
		if c.Arch == "i386" {
			assert.Empty(t, c.Cases, "the example's cases exclude i386")
			assert.Empty(t, c.Builds, "no case needs the collection on i386")
			continue
		}
		require.Len(t, c.Builds, 1, c.Target)
		assert.Equal(t, "macro", c.Builds[0].Collection)
		if c.Arch == "arm" {
			// libbpf's BPF_KSYSCALL casts a 4-byte register to a pointer
			// on 32-bit arm: one warning per probe, shown.
			assert.Equal(t, 2, strings.Count(c.Builds[0].Warnings, "note: expanded from macro 'BPF_KSYSCALL'"), c.Builds[0].Warnings)
			assert.Contains(t, c.Builds[0].Warnings, "2 warnings generated")
		} else {
			assert.Empty(t, c.Builds[0].Warnings, "%s: the example compiles clean", c.Target)
		}
		// Where a loader, as it ships, cannot load or attach the example
		// (examples/syscall-macro/ksystest.yaml says why), the verdict
		// is that refusal, with the loader's own error.
		refuses := map[string][]string{
			"cilium/ebpf": {"arm-6.12", "mips64el-6.12", "ppc64le-6.12", "riscv64-6.12"},
			"libbpf":      {"ppc64le-6.1", "ppc64le-6.12", "riscv64-6.12"},
		}
		wantLibbpf := "libbpf-1.5"
		if c.Arch == "mips64el" {
			wantLibbpf = "libbpf-1.1" // trixie has no libbpf for mips64el
		}
		require.Len(t, c.Cases, 6, "%s: three cases, two loaders", c.Target)
		seen := map[string]int{}
		for _, cs := range c.Cases {
			require.NotNil(t, cs.Loader, "%s/%s", c.Target, cs.Name)
			loader := cs.Loader.Name
			seen[loader]++
			family := loader
			if strings.HasPrefix(loader, "libbpf-") {
				assert.Equal(t, wantLibbpf, loader, c.Target)
				family = "libbpf"
			}
			if slices.Contains(refuses[family], c.Target) {
				assert.Equal(t, result.QuirkConfirmed, cs.Verdict, "%s/%s: %s", c.Target, cs.Name, cs.Message)
				assert.Contains(t, cs.Message, "refused, as declared: ", "%s/%s", c.Target, cs.Name)
				refused[family]++
				continue
			}
			assert.True(t, cs.Verdict.OK(), "%s/%s: %s", c.Target, cs.Name, cs.Message)
			assert.NotEmpty(t, cs.Loader.Attached, "%s/%s: where its programs attached", c.Target, cs.Name)
			require.NotNil(t, cs.Loader.Wrapper, "%s/%s: the loader's LINUX_HAS_SYSCALL_WRAPPER", c.Target, cs.Name)
			require.NotEmpty(t, cs.Sets, "%s/%s", c.Target, cs.Name)
			for _, set := range cs.Sets {
				assert.True(t, set.OK, "%s/%s/%s: %s", c.Target, cs.Name, set.Name, set.Message)
				require.NotNil(t, set.Runs, "%s/%s/%s: BPF stats say whether the program ran", c.Target, cs.Name, set.Name)
				assert.NotZero(t, *set.Runs, "%s/%s/%s", c.Target, cs.Name, set.Name)
				for _, a := range set.Args {
					if a.Expect == matrix.ExpectIgnore {
						continue
					}
					assert.True(t, strings.HasPrefix(a.From, "global "), "%s/%s/%s/%s read from %q", c.Target, cs.Name, set.Name, a.Name, a.From)
					require.NotNil(t, a.Captured, "%s/%s/%s/%s", c.Target, cs.Name, set.Name, a.Name)
					if a.Expect == matrix.ExpectDiffer {
						differs++
						assert.NotEqual(t, a.Passed, *a.Captured)
					} else {
						assert.Equal(t, a.Passed, *a.Captured, "%s/%s/%s/%s", c.Target, cs.Name, set.Name, a.Name)
					}
				}
			}
			if strings.HasPrefix(cs.Name, "macro-prctl@") {
				assert.Len(t, cs.Sets, 3, "%s: three capture sets per prctl call", c.Target)
			}
		}
		assert.Equal(t, map[string]int{"cilium/ebpf": 3, wantLibbpf: 3}, seen, c.Target)
	}
	assert.NotZero(t, differs, "differ expectations were checked somewhere")
	assert.Equal(t, map[string]int{"cilium/ebpf": 12, "libbpf": 9}, refused, "every declared refusal was checked")
}

// The loader is part of the verdict: where cilium/ebpf, as the user ships
// it, refuses the example (arm 6.12: it cannot tell whether the kernel has
// the syscall wrapper), the cases fail with cilium/ebpf's own error, and
// the target fails, when the config does not say that it refuses it
// there. ksystest's own resolution would have loaded it: that would be a
// verdict about a loader nobody ships.
func TestVMLoaderRefusalIsAFailure(t *testing.T) {
	var targets []matrix.Target
	for _, tg := range defaultTargets(t) {
		if tg.Name == "x86_64-6.1" || tg.Name == "arm-6.12" {
			targets = append(targets, tg)
		}
	}
	require.Len(t, targets, 2)
	requireVMs(t, targets)
	dir := project(t, "../../examples/syscall-macro")
	cfg := filepath.Join(dir, "ksystest.yaml")
	data, err := os.ReadFile(cfg)
	require.NoError(t, err)
	i := bytes.Index(data, []byte("    loadFails:\n"))
	j := bytes.Index(data, []byte("\n# Every case runs"))
	require.True(t, i > 0 && j > i, "the example declares where cilium/ebpf refuses it")
	data = append(data[:i:i], data[j:]...)
	require.NoError(t, os.WriteFile(cfg, data, 0o644))

	code, stdout, errs := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--only", "x86_64-6.1,arm-6.12", "--out", "out")
	assert.Equal(t, 1, code, errs)
	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, 2)
	for _, c := range r.Cells {
		require.Len(t, c.Cases, 6, c.Target)
		if c.Target == "x86_64-6.1" {
			assert.Equal(t, result.OutcomePass, c.Outcome, c.Reason)
			continue
		}
		assert.Equal(t, result.OutcomeFail, c.Outcome)
		for _, cs := range c.Cases {
			if cs.Loader.Name != "cilium/ebpf" {
				// libbpf tells the wrapper right there, and loads it.
				assert.Equal(t, result.Pass, cs.Verdict, "%s: %s", cs.Name, cs.Message)
				continue
			}
			assert.Equal(t, result.Fail, cs.Verdict, cs.Name)
			assert.Contains(t, cs.Message, "cilium/ebpf v0.22.0 refuses it: ", cs.Name)
			assert.Contains(t, cs.Message, "write /sys/kernel/tracing/kprobe_events: invalid argument", cs.Name)
		}
	}
	assert.Regexp(t, `macro-prctl@cilium/ebpf\s+pass\s+FAIL`, stdout)
	assert.Regexp(t, `macro-prctl@libbpf-1.5\s+pass\s+pass`, stdout)
}

// One loader made to mis-resolve LINUX_HAS_SYSCALL_WRAPPER on purpose
// (libbpf told that __x64_sys_bpf does not exist): its BPF_KSYSCALL
// readings are the wrapper's own registers, the verdict names that loader
// and its wrong value, and cilium/ebpf's cases, on the same kernel, still
// pass.
func TestVMLoaderMisresolvesTheWrapper(t *testing.T) {
	var targets []matrix.Target
	for _, tg := range defaultTargets(t) {
		if tg.Name == "x86_64-6.1" {
			targets = append(targets, tg)
		}
	}
	requireVMs(t, targets)
	dir := project(t, "../../examples/syscall-macro")
	code, stdout, errs := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--only", "x86_64-6.1", "--out", "out",
		"--libbpf-arg=--deny-kprobe", "--libbpf-arg=__x64_sys_bpf")
	assert.Equal(t, 1, code, errs)
	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, 1)
	c := r.Cells[0]
	assert.Equal(t, result.OutcomeFail, c.Outcome)
	for _, cs := range c.Cases {
		require.NotNil(t, cs.Loader, cs.Name)
		require.NotNil(t, cs.Loader.Wrapper, cs.Name)
		if cs.Loader.Name == "cilium/ebpf" {
			assert.Equal(t, 1, *cs.Loader.Wrapper, cs.Name)
			assert.True(t, cs.Verdict.OK(), "%s: %s", cs.Name, cs.Message)
			continue
		}
		assert.Equal(t, "libbpf-1.5", cs.Loader.Name)
		assert.Equal(t, 0, *cs.Loader.Wrapper, "%s: libbpf told the wrapper's symbol is absent", cs.Name)
		if cs.Name == "macro-prctl-cx@libbpf-1.5" {
			continue // reads pt_regs itself, not through BPF_KSYSCALL: right whatever the extern says
		}
		assert.Equal(t, result.Fail, cs.Verdict, cs.Name)
		var ksyscall *result.CaptureSet
		for i := range cs.Sets {
			if cs.Sets[i].Name == "ksyscall" {
				ksyscall = &cs.Sets[i]
			}
		}
		require.NotNil(t, ksyscall, cs.Name)
		assert.False(t, ksyscall.OK, "%s: BPF_KSYSCALL read the wrapper's own registers", cs.Name)
	}
	assert.Contains(t, stdout, "x86_64-6.1: libbpf-1.5 resolves LINUX_HAS_SYSCALL_WRAPPER to 0, but the kernel has the syscall wrapper")
	assert.Regexp(t, `y/y/y/\S+ cilium/ebpf:y libbpf-1.5:n`, stdout)
}

// A user's own collections beside ksystest's own cases, on one x86_64 and
// one arm64 kernel: a probe with a bug fails with the per-argument diff
// naming the global it read; a probe with its own license and a compiler
// warning loads beside ksystest's probes, reports through ksystest's ring
// buffer, and its warning is shown; ksystest's own cases still pass.
func TestVMUserProbesBesideBuiltin(t *testing.T) {
	var targets []matrix.Target
	for _, tg := range defaultTargets(t) {
		if tg.Name == "x86_64-6.1" || tg.Name == "arm64-6.1" {
			targets = append(targets, tg)
		}
	}
	require.Len(t, targets, 2)
	requireVMs(t, targets)
	dir := project(t, "../../examples/syscall-macro", "testdata/byop")
	cfg := filepath.Join(dir, "ksystest.yaml")
	data, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.Contains(t, string(data), "targets: default\n")
	data = bytes.Replace(data, []byte("targets: default\n"), []byte("targets: default\ncatalogues: [builtin, byop.yaml]\n"), 1)
	require.NoError(t, os.WriteFile(cfg, data, 0o644))

	code, stdout, errs := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--only", "x86_64-6.1,arm64-6.1", "--out", "out")
	assert.Equal(t, 1, code, "the wrong probe is a finding")
	assert.Contains(t, errs, "the compiler warned")
	assert.Contains(t, errs, "ring.bpf.c:17:")
	assert.Contains(t, errs, "cast to 'const void *' from smaller integer type 'int'")

	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, 2)
	for _, c := range r.Cells {
		assert.Equal(t, result.OutcomeFail, c.Outcome, c.Target)
		builds := map[string]result.Build{}
		for _, b := range c.Builds {
			builds[b.Collection] = b
		}
		assert.Contains(t, builds["ring"].Warnings, "from smaller integer type", c.Target)
		assert.NotEmpty(t, builds["ring"].VmlinuxH, "%s: vmlinux.h dumped from the kernel's BTF", c.Target)
		assert.Empty(t, builds["wrong"].Warnings, c.Target)
		for _, l := range c.Collections {
			assert.Empty(t, l.Error, "%s: collection %s loads beside ksystest's", c.Target, l.Name)
		}

		builtin, mine := 0, 0
		for _, cs := range c.Cases {
			// The example's collections load with each loader it names.
			base, loader, _ := strings.Cut(cs.Name, "@")
			if loader != "" {
				assert.Contains(t, []string{"cilium/ebpf", "libbpf-1.5"}, loader, cs.Name)
			}
			switch base {
			case "byop-prctl-wrong":
				assert.Equal(t, result.Fail, cs.Verdict, c.Target)
				require.Len(t, cs.Sets, 1)
				assert.NotContains(t, cs.Message, "catalogue error", "the case itself is sound")
				args := cs.Sets[0].Args
				require.Len(t, args, 5)
				assert.True(t, args[0].OK)
				assert.False(t, args[1].OK, "%s: arg2 holds arg3", c.Target)
				assert.Equal(t, "global seen_arg2", args[1].From)
				assert.Equal(t, uint64(0x2222000000002202), args[1].Passed)
				require.NotNil(t, args[1].Captured)
				assert.Equal(t, uint64(0x3333000000003303), *args[1].Captured)
				assert.True(t, args[2].OK)
			case "byop-write-ring":
				mine++
				assert.Equal(t, result.Pass, cs.Verdict, "%s: %s", c.Target, cs.Message)
				require.Len(t, cs.Sets, 1)
				assert.True(t, cs.Sets[0].OK, "%s: %s", c.Target, cs.Sets[0].Message)
				assert.Equal(t, "ring set 1", cs.Sets[0].Args[0].From)
			case "macro-prctl", "macro-prctl-cx", "macro-splice":
				mine++
				assert.True(t, cs.Verdict.OK(), "%s/%s: %s", c.Target, cs.Name, cs.Message)
			default:
				builtin++
				assert.True(t, cs.Verdict.OK(), "%s/%s: %s", c.Target, cs.Name, cs.Message)
			}
		}
		assert.Equal(t, 4*2, mine, "%s: four cases, under each loader", c.Target)
		assert.Greater(t, builtin, 10, "%s: ksystest's own cases ran too", c.Target)
	}
	// The report: the diff names the global, the warning is shown.
	assert.Contains(t, stdout, "the compiler warned about collection ring (x86_64-6.1, arm64-6.1)")
	assert.Regexp(t, `arg2\s.*0x2222000000002202.*0x3333000000003303`, stdout)
	assert.Contains(t, stdout, "global seen_arg2")
}

// A source that does not compile is a config error naming file and line,
// found before any guest boots: it says nothing about a kernel. The run
// says it in one line per target, the first error; the compiler's whole
// output is in the results and in a log beside the target's.
func TestCompileErrorIsConfigError(t *testing.T) {
	vmtest.Require(t, nil, "clang")
	dir := project(t, "../../examples/syscall-macro")
	src := filepath.Join(dir, "syscall_macro.bpf.c")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	data = bytes.Replace(data, []byte("\targ1 = tmp;\n"), []byte("\targ1 = tmp\n"), 1)
	require.NoError(t, os.WriteFile(src, data, 0o644))
	code, _, errs := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--only", "x86_64-6.1", "--out", "out")
	assert.Equal(t, 2, code)
	assert.Regexp(t, `collection macro does not build for x86_64: syscall_macro\.bpf\.c:\d+:\d+: expected expression \(the compiler's whole output: \S+build-macro\.log and results\.json\)`, errs)
	assert.NotContains(t, errs, "note:", "not the compiler's whole output")
	log, err := os.ReadFile(filepath.Join(dir, "out", "x86_64-6.1", "build-macro.log"))
	require.NoError(t, err)
	assert.Contains(t, string(log), "error: expected expression")
	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, 1)
	assert.Equal(t, result.OutcomeConfigError, r.Cells[0].Outcome)
	require.Len(t, r.Cells[0].Builds, 1)
	assert.Contains(t, r.Cells[0].Builds[0].Output, "note: expanded from macro 'READ_REG'")
	assert.Regexp(t, `^syscall_macro\.bpf\.c:\d+:\d+: expected expression$`, r.Cells[0].Builds[0].Error)
	assert.Zero(t, r.Cells[0].Timings.AgentStartSec, "no guest booted")
	_, err = os.Stat(filepath.Join(dir, "out", "x86_64-6.1", "console.log"))
	assert.True(t, os.IsNotExist(err), "no console: nothing booted")
}

// ksystest bench on one target, as CI smoke-tests it: floor and cell
// measured side by side, the phases filled in, bench.json written. No
// timing is asserted: only that each was measured.
func TestVMBenchSmoke(t *testing.T) {
	var targets []matrix.Target
	for _, tg := range defaultTargets(t) {
		if tg.Name == "arm64-6.1" {
			targets = append(targets, tg)
		}
	}
	requireVMs(t, targets)
	dir := t.TempDir()
	code, out, errs := ksystestIn(t, dir, "bench", "--only", "arm64-6.1", "--runs", "1", "--out", "b")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "TARGET")
	assert.Regexp(t, `arm64-6.1\s+\d+\.\d\ds\s+\d+\.\d\ds\s+\d+\.\d\d×`, out)
	data, err := os.ReadFile(filepath.Join(dir, "b", "bench.json"))
	require.NoError(t, err)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(data, &rows))
	require.Len(t, rows, 1)
	for _, k := range []string{"floor_sec", "cell_sec", "ratio", "kernel_to_agent_sec", "load_sec"} {
		v, ok := rows[0][k].(float64)
		assert.True(t, ok && v > 0, "%s measured: %v", k, rows[0][k])
	}
	assert.Greater(t, rows[0]["cell_sec"].(float64), rows[0]["floor_sec"].(float64), "a cell does more than power off")
}

// statusOf is the status a command ran with; an error that is not its
// exit status fails the test.
func statusOf(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}
