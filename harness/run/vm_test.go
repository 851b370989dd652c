package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/report"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
	"github.com/ksystest/ksystest/harness/vm"
	"github.com/ksystest/ksystest/internal/vmtest"
)

// VM tests boot real Debian kernels under QEMU with the real agent and
// probes. Locally they skip, with the reason, when QEMU or the Debian
// keyring is missing; under CI=true a missing prerequisite fails.

func requireVM(t testing.TB, arches ...string) {
	t.Helper()
	vmtest.Require(t, arches)
}

var (
	agentsOnce sync.Once
	agents     Programs
	agentsDir  string
)

// TestMain removes what the tests share once they are all done.
func TestMain(m *testing.M) {
	code := m.Run()
	if agentsDir != "" {
		os.RemoveAll(agentsDir)
	}
	os.Exit(code)
}

// testAgents builds each guest program at most once per test binary, from
// the source the ksystest package carries (this checkout's), in a cache of
// its own.
func testAgents(t testing.TB) Programs {
	agentsOnce.Do(func() {
		var err error
		agentsDir, err = os.MkdirTemp("", "ksystest-agents-")
		require.NoError(t, err)
		agents = &guestbuild.GoBuilder{Source: ksystest.GuestSource(), Cache: &cache.Cache{Dir: agentsDir}}
	})
	return agents
}

// vmJobs is how many guests a VM test boots at once: 2, or
// $KSYSTEST_VM_JOBS on a host that others share.
func vmJobs(t testing.TB) int {
	if v := os.Getenv("KSYSTEST_VM_JOBS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "KSYSTEST_VM_JOBS")
		return n
	}
	return 2
}

// fetcherOf is the fetcher vmOptions gave o.
func fetcherOf(t testing.TB, o Options) *archive.Fetcher {
	f, err := o.Kernels.(DebianKernels).Archive()
	require.NoError(t, err)
	return f
}

func vmOptions(t testing.TB, cacheDir string, catalogue string, targets ...string) Options {
	t.Helper()
	m, err := matrix.Load("../../matrix.yaml", ksystest.Data)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	if catalogue != "" {
		cat, err = matrix.LoadCatalogue(catalogue)
	}
	require.NoError(t, err)
	sel := m.Targets.List
	if len(targets) > 0 {
		sel = nil
		for _, tg := range m.Targets.List {
			for _, want := range targets {
				if tg.Arch == want {
					sel = append(sel, tg)
				}
			}
		}
	}
	var arches []string
	for _, tg := range sel {
		arches = append(arches, tg.Arch)
	}
	requireVM(t, arches...)
	f, _, err := archive.NewFetcher(archive.FetcherConfig{CacheDir: cacheDir, Logf: t.Logf})
	require.NoError(t, err)
	recipe, err := kernel.ReadBTFRecipe(ksystest.Data, "images/btf.yaml")
	require.NoError(t, err)
	return Options{
		Matrix: m, Catalogue: cat, Targets: sel, OutDir: t.TempDir(), Jobs: vmJobs(t),
		Kernels: DebianKernels{Archive: Fetched(f), Cache: f.Cache, BTFRecipe: recipe}, Backend: vm.QEMU{}, Agents: testAgents(t), Builtin: ksystest.Data, Logf: t.Logf,
	}
}

// The default matrix passes on every target, with ksystest's workloads
// (a static C client and Go's net/http client) checked call by call
// against the syscall tracepoint.
func TestVMDefaultMatrix(t *testing.T) {
	o := vmOptions(t, "", "")
	requireCrossCompilers(t, o.Targets)
	m := *o.Matrix
	m.Catalogues = []string{matrix.BuiltinCatalogue, matrix.BuiltinWorkloadsCatalogue}
	cat, err := m.Catalogue()
	require.NoError(t, err)
	o.Catalogue = cat
	o.Workloads = testWorkloads(t)
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Cells, len(o.Targets))
	for _, c := range res.Cells {
		if mipsKprobeSlotCrash(c) {
			t.Logf("%s: the kernel's own kprobe-slot crash, reported as crash: %s", c.Target, c.Reason)
			continue
		}
		assertCellPasses(t, c, 2)
	}
	assert.FileExists(t, filepath.Join(o.OutDir, "results.json"))
	assertQuirks(t, res)
}

// mipsKprobeSlotCrash says c is Debian's mips64el 6.12 kernel crashing
// as it did in three of about eight make test runs: a breakpoint
// exception (ExcCode 09) at a kprobe's instruction slot (epc
// 0xffffffffc000000c), returning to syscall_common, while ksystest's
// kprobes are attached; once with the machine doubly loaded, once with
// one test binary's guests at a time. The kernel's verdict, which
// ksystest reports as crash; the cell must say so, with that signature.
func mipsKprobeSlotCrash(c result.Cell) bool {
	tail := strings.Join(c.ConsoleTail, "\n")
	return c.Target == "mips64el-6.12" && c.Outcome == result.OutcomeCrash &&
		strings.Contains(tail, "epc   : ffffffffc0") && strings.Contains(tail, "(ExcCode 09)") &&
		strings.Contains(tail, "syscall_common")
}

// focal's 5.4 has no BPF ring buffers (5.8), no bpf_probe_read_kernel or
// _user (5.5), no fentry, no module BTF: every case runs there, ksystest's
// probes reporting through a perf event array, workloads included, and
// the wrapper's four sources agree.
func TestVMUbuntuFocal(t *testing.T) {
	o := vmOptions(t, "", "", "x86_64")
	o.Targets = targetsNamed(t, o.Targets, "x86_64-ubuntu-5.4")
	requireCrossCompilers(t, o.Targets)
	m := *o.Matrix
	m.Catalogues = []string{matrix.BuiltinCatalogue, matrix.BuiltinWorkloadsCatalogue}
	cat, err := m.Catalogue()
	require.NoError(t, err)
	o.Catalogue = cat
	o.Workloads = testWorkloads(t)
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Cells, 1)
	c := res.Cells[0]
	assert.True(t, strings.HasPrefix(c.Kernel.Release, "5.4.0-"), c.Kernel.Release)
	assertCellPasses(t, c, 2)
	for _, cs := range c.Cases {
		assert.False(t, cs.NotRun, "%s ran", cs.Name)
	}
	w := c.Wrapper
	for name, v := range map[string]*bool{"kernel config": w.Config, "guest kallsyms": w.Guest, "loader": w.Loader} {
		if assert.NotNil(t, v, "wrapper per %s unknown", name) {
			assert.True(t, *v, "wrapper per %s", name)
		}
	}
	assert.True(t, w.Declared)
	console, err := os.ReadFile(filepath.Join(o.OutDir, c.ConsoleLog))
	require.NoError(t, err)
	assert.Contains(t, string(console), "probes report through perf event arrays")
	var table strings.Builder
	require.NoError(t, report.Table(&table, res))
	t.Logf("%s", table.String())
}

// A kernel without what ksystest needs is one clear message per target
// before any case, exit 2, and no case reads as failed: bionic's 4.15 from
// a test matrix, first as it is (no BTF, which Ubuntu's archive has
// nothing to make from: the host asks for a btf: file and boots nothing),
// then given one (focal's: the host needs one to boot it at all, and the
// agent stops before it loads anything), where the agent finds the kernel
// without global data in BPF programs.
func TestVMUnsupportedKernel(t *testing.T) {
	o := vmOptions(t, "", "", "x86_64")
	focal := targetsNamed(t, o.Targets, "x86_64-ubuntu-5.4")[0]
	a := mustArch(t, "x86_64")
	k, err := o.Kernels.Kernel(context.Background(), focal, a)
	require.NoError(t, err)
	focalBTF, err := o.Kernels.HostBTF(context.Background(), k, "")
	require.NoError(t, err)

	m, err := matrix.Load("testdata/ubuntu-bionic.yaml", ksystest.Data)
	require.NoError(t, err)
	bionic := m.Targets.List[0]
	withBTF := bionic
	withBTF.Name, withBTF.BTF = bionic.Name+"-btf", focalBTF
	o.Matrix, o.Targets = m, []matrix.Target{bionic, withBTF}
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Cells, 2)

	noBTF, lacks := res.Cells[0], res.Cells[1]
	assert.Equal(t, result.OutcomeConfigError, noBTF.Outcome, noBTF.Reason)
	assert.Contains(t, noBTF.Reason, "the kernel has none (CONFIG_DEBUG_INFO_BTF is not set)")
	assert.Contains(t, noBTF.Reason, "give the target a btf: file")
	assert.Empty(t, noBTF.ConsoleLog, "nothing booted")

	assert.Equal(t, result.OutcomeConfigError, lacks.Outcome, "%s %v", lacks.Reason, lacks.ConsoleTail)
	assert.True(t, strings.HasPrefix(lacks.Kernel.Release, "4.15.0-"), lacks.Kernel.Release)
	assert.Equal(t, fmt.Sprintf("unsupported kernel: %s lacks global data in BPF programs (BPF_PSEUDO_MAP_VALUE, Linux 5.2), "+
		"which BPF_KSYSCALL's LINUX_HAS_SYSCALL_WRAPPER is read from", lacks.Kernel.Release), lacks.Reason,
		"one message, naming only what the kernel lacks (it has kprobes through tracefs, and perf event arrays)")
	assert.NotZero(t, lacks.Timings.AgentStartSec, "the agent ran")
	for _, c := range res.Cells {
		require.NotEmpty(t, c.Cases, c.Target)
		for _, cs := range c.Cases {
			assert.True(t, cs.NotRun, "%s/%s: not run, not failed", c.Target, cs.Name)
		}
	}
	assert.Equal(t, 2, res.ExitCode())
	var table strings.Builder
	require.NoError(t, report.Table(&table, res))
	for _, cs := range res.Cells[0].Cases {
		for _, line := range strings.Split(table.String(), "\n") {
			if strings.HasPrefix(line, cs.Name+" ") {
				assert.Equal(t, []string{cs.Name, "not", "run", "not", "run"}, strings.Fields(line), "the table's row")
			}
		}
	}
	assert.Contains(t, table.String(), "config-error")
	t.Logf("%s", table.String())
}

// assertCellPasses checks a cell of ksystest's own cases beyond its
// outcome: the kernel it booted, the wrapper's sources agreeing, and every
// case's captures and tracepoint record; wantWorkloads workload cases ran.
func assertCellPasses(t *testing.T, c result.Cell, wantWorkloads int) {
	t.Helper()
	assert.Equal(t, result.OutcomePass, c.Outcome, "%s: %s %v", c.Target, c.Reason, c.ConsoleTail)
	assert.Len(t, c.Kernel.SHA256, 64)
	assert.NotEmpty(t, c.Kernel.Version)
	if c.Arch == "x86_64" {
		assert.Equal(t, "vmlinux", c.Kernel.BootImage, "x86 boots the unpacked kernel through PVH")
	}
	require.NotNil(t, c.Wrapper, c.Target)
	assert.True(t, c.Wrapper.Agree, "%s: %+v", c.Target, c.Wrapper)
	for name, v := range map[string]*bool{"config": c.Wrapper.Config, "guest": c.Wrapper.Guest} {
		require.NotNil(t, v, "%s: wrapper %s unknown", c.Target, name)
		assert.Equal(t, c.Wrapper.Declared, *v, "%s: wrapper per %s", c.Target, name)
	}
	require.NotNil(t, c.Wrapper.Loader, c.Target)
	// Only where the loader looks for a symbol the kernel lacks
	// (ppc64le: __powerpc64_sys_bpf) does it resolve otherwise.
	assert.Equal(t, c.Wrapper.Declared != c.Wrapper.LoaderWrong, *c.Wrapper.Loader, "%s: loader", c.Target)
	assert.Equal(t, c.Arch == "ppc64le", c.Wrapper.LoaderWrong, c.Target)
	require.NotNil(t, c.Kernel.BTF)
	assert.Contains(t, []string{result.BTFKernel, result.BTFPahole}, c.Kernel.BTF.Source, c.Target)
	if c.Kernel.BTF.Source == result.BTFPahole {
		assert.NotZero(t, c.Kernel.BTF.Bytes)
	}
	if c.Arch == "arm" || c.Target == "s390x-6.1" {
		assert.Equal(t, result.BTFPahole, c.Kernel.BTF.Source, "%s has no BTF of its own", c.Target)
	}
	assert.NotZero(t, c.Timings.AgentStartSec)
	assert.NotZero(t, c.Timings.DoneSec)
	workloads := 0
	for _, cs := range c.Cases {
		assert.True(t, cs.Verdict.OK(), "%s/%s: %s %s", c.Target, cs.Name, cs.Verdict, cs.Message)
		if cs.Workload != nil {
			workloads++
			assertWorkload(t, c.Target, cs)
			continue
		}
		require.NotNil(t, cs.Oracle, "%s/%s", c.Target, cs.Name)
		if cs.Via == proto.ViaRaw || cs.Via == proto.ViaEffects {
			assert.Equal(t, result.OracleAgrees, cs.Oracle.Status, "%s/%s: the syscall tracepoint saw what was passed", c.Target, cs.Name)
		} else {
			assert.Equal(t, result.OracleNA, cs.Oracle.Status, "%s/%s", c.Target, cs.Name)
		}
		if cs.Verdict == result.Pass || cs.Verdict == result.Handled {
			for _, a := range cs.Args {
				require.NotNil(t, a.Captured, "%s/%s/%s", c.Target, cs.Name, a.Name)
				if a.Expect == "match" {
					assert.Equal(t, a.Passed, *a.Captured, "%s/%s/%s", c.Target, cs.Name, a.Name)
				}
			}
		}
	}
	assert.Equal(t, wantWorkloads, workloads, c.Target)
	t.Logf("%s: agent %.2fs done %.2fs exit %.2fs (guest uptime at agent %.2fs, probe load %dms)",
		c.Target, c.Timings.AgentStartSec, c.Timings.DoneSec, c.Timings.ExitSec, c.Timings.GuestUptimeSec, c.Timings.ProbeLoadMS)
}

// assertWorkload checks a workload case from its counts and runs, not
// its verdict alone: every run exited 0, calls were made, every call
// matched or was explained, and the aware probes matched every call they
// watched.
func assertWorkload(t *testing.T, target string, cs result.Case) {
	t.Helper()
	w := cs.Workload
	for i, run := range w.Runs {
		assert.Zero(t, run.Exit, "%s/%s run %d: %s", target, cs.Name, i+1, run.Stderr)
		assert.Empty(t, run.Signal+run.Error, "%s/%s run %d", target, cs.Name, i+1)
		assert.Zero(t, run.Lost+run.Orphans, "%s/%s run %d", target, cs.Name, i+1)
	}
	s := w.Summary
	assert.NotZero(t, s.Made, "%s/%s", target, cs.Name)
	assert.Zero(t, s.Wrong, "%s/%s", target, cs.Name)
	assert.Equal(t, s.Made, s.Matching+s.Explained, "%s/%s", target, cs.Name)
	for _, p := range w.Probes {
		if strings.HasPrefix(p.Program, "aware_") {
			assert.NotZero(t, p.Made, "%s/%s: %s watched no call", target, cs.Name, p.Program)
			assert.Equal(t, p.Made, p.Matching, "%s/%s: %s recovers every call", target, cs.Name, p.Program)
		}
	}
	t.Logf("%s/%s: %d made, %d captured, %d matching, %d explained, %d wrong", target, cs.Name, s.Made, s.Captured, s.Matching, s.Explained, s.Wrong)
}

// requireCrossCompilers: the C workload builds with each arch's gcc.
func requireCrossCompilers(t *testing.T, targets []matrix.Target) {
	t.Helper()
	var tools []string
	for _, tg := range targets {
		a := mustArch(t, tg.Arch)
		if a.Go.GOARCH == runtime.GOARCH {
			tools = append(tools, "gcc")
		} else {
			tools = append(tools, a.CrossCC)
		}
	}
	vmtest.Require(t, nil, tools...)
}

var (
	workloadsOnce sync.Once
	workloads     WorkloadPrograms
)

// testWorkloads builds the workload programs from this checkout's source,
// once per test binary, in the agents' cache.
func testWorkloads(t testing.TB) WorkloadPrograms {
	workloadsOnce.Do(func() {
		b := testAgents(t).(*guestbuild.GoBuilder)
		workloads = CarriedWorkloads{C: &guestbuild.CBuilder{Source: ksystest.GuestSource(), Cache: b.Cache}, Go: b}
	})
	return workloads
}

// The cache alone serves a run: from an empty cache, a kernel with its
// own BTF and one whose BTF pahole makes; then again with the network
// cut, so the kernels, the indexes and the generated BTF must come from
// the cache.
func TestVMColdCacheThenOffline(t *testing.T) {
	cache := t.TempDir()
	o := vmOptions(t, cache, "", "arm64", "arm")
	o.Targets = []matrix.Target{o.Targets[1], o.Targets[3]} // arm64-6.1, arm-6.1
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Cells, 2)
	for _, c := range res.Cells {
		assert.Equal(t, result.OutcomePass, c.Outcome, "%s: %s", c.Target, c.Reason)
		assert.False(t, c.Kernel.Cached, c.Target)
	}
	if c := res.Cells[1]; c.Kernel.BTF != nil {
		t.Logf("%s: BTF from %s: %d KiB; download %.1f MiB in %.1fs, extract %.1fs, pahole %.1fs", c.Target, c.Kernel.BTF.From,
			c.Kernel.BTF.Bytes>>10, c.Kernel.BTF.DownloadMB, c.Kernel.BTF.DownloadSec, c.Kernel.BTF.ExtractSec, c.Kernel.BTF.PaholeSec)
	}

	o2 := vmOptions(t, cache, "", "arm64", "arm")
	o2.Targets = o.Targets
	f := fetcherOf(t, o2)
	f.Client = &http.Client{Transport: offline{}}
	f.IndexMaxAge = 0
	res, err = Run(context.Background(), o2)
	require.NoError(t, err)
	require.Len(t, res.Cells, 2)
	for _, c := range res.Cells {
		assert.Equal(t, result.OutcomePass, c.Outcome, "%s: %s", c.Target, c.Reason)
		assert.True(t, c.Kernel.Cached, c.Target)
		if c.Arch == "arm" {
			assert.True(t, c.Kernel.BTF.Cached, "generated BTF reused")
		}
	}
}

// Declaring that 32-bit arm has the syscall wrapper fails the target,
// naming what each source says.
func TestVMWrapperMismatchFails(t *testing.T) {
	o := vmOptions(t, "", "", "arm")
	o.Targets = o.Targets[:1]
	yes := true
	o.Targets[0].SyscallWrapper = &yes
	o.Catalogue = &matrix.Catalogue{APIVersion: matrix.APIVersion, Cases: o.Catalogue.Cases[:1]}
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	c := res.Cells[0]
	assert.Equal(t, result.OutcomeFail, c.Outcome)
	assert.Equal(t, "syscall wrapper: the matrix declares yes, but kernel config no, guest kallsyms (__arm_sys_bpf) no, loader's LINUX_HAS_SYSCALL_WRAPPER no", c.Reason)
	assert.Equal(t, 1, res.ExitCode())
}

// assertQuirks checks, independently of the catalogue's predictions, that
// each quirk showed up where the calling conventions say it must, and
// that every aware probe recovered the real arguments everywhere.
func assertQuirks(t *testing.T, res *result.Run) {
	verdict := map[string]map[string]result.Case{}
	for _, c := range res.Cells {
		if verdict[c.Arch] == nil {
			verdict[c.Arch] = map[string]result.Case{}
		}
		for _, cs := range c.Cases {
			verdict[c.Arch][cs.Name] = cs
			if cs.Role == "aware" {
				assert.Equal(t, result.Handled, cs.Verdict, "%s/%s: %s", c.Arch, cs.Name, cs.Message)
			}
		}
	}
	// ppc64le: the loader resolves LINUX_HAS_SYSCALL_WRAPPER to no on a
	// kernel that has the wrapper, so every naive BPF_KSYSCALL probe
	// reads the wrapper's own registers.
	ppcLoader := "reads the wrong pt_regs"
	want := map[string]map[string]string{ // arch → naive case → message fragment; absent: pass
		"s390x": {
			"mmap-raw-naive":     "never fires: attach naive_mmap to sys_mmap",
			"mmap-go-naive":      "never fires",
			"mmap-raw-old-mmap":  "the address of the struct holding the arguments",
			"clone-naive":        "args 1 (flags) and 2 (newsp) arrive swapped",
			"connect-go-naive":   "never fires: attached, but no event",
			"connect-dial-naive": "never fires: attached, but no event",
		},
		"x86_64": {
			"compat-write-naive": "never fires: attached, but no event",
			"compat-prctl-naive": "never fires: attached, but no event",
			"compat-clone-naive": "never fires: attached, but no event",
		},
		"arm64": {
			"clone-naive":        "args 4 (child_tid) and 5 (tls) arrive swapped",
			"compat-clone-naive": "args 4 (child_tid) and 5 (tls) arrive swapped",
		},
		"arm": {
			"mmap-go-naive": "never fires",
			"clone-naive":   "args 4 (child_tid) and 5 (tls) arrive swapped",
		},
		"mips64el": {
			"mmap-raw-naive":     "never fires: attach naive_mmap to sys_mmap",
			"mmap-go-naive":      "never fires",
			"clone-naive":        "args 4 (child_tid) and 5 (tls) arrive swapped",
			"compat-clone-naive": "args 4 (child_tid) and 5 (tls) arrive swapped",
		},
		"ppc64le": {
			"mmap-raw-naive": ppcLoader, "mmap-go-naive": ppcLoader, "clone-naive": ppcLoader, "entry-naive": ppcLoader,
			"connect-raw-naive": ppcLoader, "connect-go-naive": ppcLoader, "connect-dial-naive": ppcLoader,
		},
		"i386": {
			"mmap-raw-naive":     "does not load",
			"mmap-go-naive":      "does not load",
			"clone-naive":        "does not load",
			"entry-naive":        "does not load",
			"connect-raw-naive":  "reads registers that are not the call's",
			"connect-go-naive":   "never fires: attached, but no event",
			"connect-dial-naive": "never fires: attached, but no event",
		},
		"riscv64": {
			"clone-naive": "args 4 (child_tid) and 5 (tls) arrive swapped",
			"entry-naive": "never fires: attach ksys_prctl to sys_prctl",
		},
	}
	for archName, cases := range verdict {
		for name, cs := range cases {
			if cs.Role != "naive" {
				continue
			}
			if frag, ok := want[archName][name]; ok {
				assert.Equal(t, result.QuirkConfirmed, cs.Verdict, "%s/%s", archName, name)
				assert.Contains(t, cs.Message, frag, "%s/%s", archName, name)
			} else {
				assert.Equal(t, result.Pass, cs.Verdict, "%s/%s: %s", archName, name, cs.Message)
			}
		}
		for name := range want[archName] {
			assert.Contains(t, cases, name, "%s ran %s", archName, name)
		}
	}
	require.NotEmpty(t, res.Quirks)
}

// A catalogue that gives clone the x86_64 register order where the
// kernel says otherwise (arm64: CONFIG_CLONE_BACKWARDS, s390x:
// CONFIG_CLONE_BACKWARDS2) fails the case as a catalogue error naming the
// kernel's order, even though the probe captured what it was given.
func TestVMCatalogueContradictedByKernel(t *testing.T) {
	o := vmOptions(t, "", "", "arm64", "s390x")
	o.Targets = []matrix.Target{o.Targets[1], o.Targets[4]} // arm64-6.1, s390x-6.12
	cd, ok := o.Catalogue.Find("clone-naive")
	require.True(t, ok)
	cd.Order = map[string][]int{"arm64": {1, 2, 3, 4, 5}, "s390x": {1, 2, 3, 4, 5}}
	o.Catalogue = &matrix.Catalogue{APIVersion: matrix.APIVersion, Cases: []matrix.CaseDef{cd}}
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	want := map[string]string{
		"arm64-6.1":  "is (clone_flags, newsp, parent_tidptr, tls, child_tidptr)", // from its BTF, or its config where it has none
		"s390x-6.12": "is (newsp, clone_flags, parent_tidptr, child_tidptr, tls)",
	}
	for _, c := range res.Cells {
		assert.Equal(t, result.OutcomeFail, c.Outcome, c.Target)
		require.Len(t, c.Cases, 1)
		cs := c.Cases[0]
		assert.Equal(t, result.Fail, cs.Verdict)
		assert.Contains(t, cs.Message, "catalogue error: the catalogue's order on "+c.Arch+" puts (flags, newsp, parent_tid, child_tid, tls) in the registers")
		assert.Contains(t, cs.Message, want[c.Target])
		require.NotNil(t, cs.Kernel)
		assert.False(t, cs.Kernel.Agree)
		assert.Equal(t, 1, cs.Captures, "the call was made and captured")
	}
	assert.Equal(t, 1, res.ExitCode())
}

type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("offline (test)")
}

// A probe that reads the wrong registers fails, with expected vs captured
// per argument, exactly where the calling convention says it must.
func TestVMWrongProbeFails(t *testing.T) {
	o := vmOptions(t, "", "testdata/wrong-probe.yaml", "x86_64", "arm64", "s390x")
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Cells, len(o.Targets))
	wrongArg := map[string]int{"x86_64": 4, "s390x": 1} // rcx vs r10; gprs[2] vs orig_gpr2
	perArch := map[string]int{}
	for _, c := range res.Cells {
		perArch[c.Arch]++
		require.Len(t, c.Cases, 1, c.Target)
		cs := c.Cases[0]
		bad, expectFail := wrongArg[c.Arch]
		if !expectFail {
			// arm64: regs[0] still equals orig_x0 at syscall entry.
			assert.Equal(t, result.OutcomePass, c.Outcome, "%s: %s %s", c.Target, c.Reason, cs.Message)
			continue
		}
		assert.Equal(t, result.OutcomeFail, c.Outcome, "%s: %s", c.Target, c.Reason)
		assert.Equal(t, result.Fail, cs.Verdict, c.Target)
		require.Len(t, cs.Args, 6, c.Target)
		assert.Contains(t, cs.Message, fmt.Sprintf("arg %d (%s) expected %#x, captured", bad, cs.Args[bad-1].Name, cs.Args[bad-1].Passed), c.Target)
		for i, a := range cs.Args {
			require.NotNil(t, a.Captured, "%s arg %d", c.Target, i+1)
			assert.Equal(t, i+1 != bad, a.OK, "%s arg %d", c.Target, i+1)
		}
	}
	for _, a := range []string{"x86_64", "arm64", "s390x"} {
		assert.NotZero(t, perArch[a], "no %s target ran", a)
	}
	assert.Equal(t, 1, res.ExitCode())
}

// A kernel that panics ends as a crash with the panic in the console tail,
// at once, not at a deadline.
func TestVMPanicIsCrash(t *testing.T) {
	o := vmOptions(t, "", "", "arm64")
	o.Targets = o.Targets[:1]
	o.ExtraCmdline = []string{"rdinit=/no-such-init"}
	start := time.Now()
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	c := res.Cells[0]
	assert.Equal(t, result.OutcomeCrash, c.Outcome, c.Reason)
	assert.Contains(t, c.Reason, "Kernel panic")
	assert.Contains(t, strings.Join(c.ConsoleTail, "\n"), "Kernel panic - not syncing")
	assert.Less(t, time.Since(start), 60*time.Second, "a panic ends the cell, not the boot deadline")
	for _, cs := range c.Cases {
		assert.Equal(t, result.Fail, cs.Verdict)
	}
}

// A guest that never gets going is killed at the boot deadline and leaves
// no QEMU behind.
func TestVMHangIsKilled(t *testing.T) {
	o := vmOptions(t, "", "", "arm64")
	o.Targets = o.Targets[:1]
	marker := fmt.Sprintf("ksystest.hangtest=%d", time.Now().UnixNano())
	o.ExtraCmdline = []string{marker}
	o.Paused = true
	o.Targets[0].BootTimeout = matrix.Duration(3 * time.Second)
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	c := res.Cells[0]
	assert.Equal(t, result.OutcomeBootError, c.Outcome)
	assert.Contains(t, c.Reason, "no agent within 3s")
	assert.Contains(t, c.Reason, "(VM state: prelaunch)", "QMP says the CPU never started")
	assert.Empty(t, vmtest.ProcessesWith(t, marker), "QEMU left running")
}

// QEMU killed from outside mid-run (kill -9, as the kernel's OOM killer
// does) is the host's fault: the cell is an infra-error and the run exits
// 3, never a crash or a fail.
func TestVMQEMUKilledFromOutsideIsInfraError(t *testing.T) {
	o := vmOptions(t, "", "", "x86_64")
	o.Targets = targetsNamed(t, o.Targets, "x86_64-6.1")
	o.Jobs = 1
	marker := fmt.Sprintf("ksystest.killtest=%d", time.Now().UnixNano())
	o.ExtraCmdline = []string{marker}
	running := make(chan struct{})
	var once sync.Once
	o.OnPhase = func(_, phase string) {
		if strings.HasPrefix(phase, "running") {
			once.Do(func() { close(running) })
		}
	}
	killed := make(chan []string, 1)
	go func() {
		<-running
		pids := vmtest.ProcessesWith(t, marker)
		for _, pid := range pids {
			n, _ := strconv.Atoi(pid)
			_ = syscall.Kill(n, syscall.SIGKILL)
		}
		killed <- pids
	}()
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Cells, 1)
	select {
	case pids := <-killed:
		require.Len(t, pids, 1, "one QEMU killed")
	default:
		t.Fatal("the agent never started: nothing was killed")
	}
	c := res.Cells[0]
	assert.Equal(t, result.OutcomeInfraError, c.Outcome, c.Reason)
	assert.Contains(t, c.Reason, "QEMU was killed by signal 9 (killed), not by ksystest")
	assert.Equal(t, 3, res.ExitCode())
	for _, cs := range c.Cases {
		if cs.Captures == 0 {
			assert.Contains(t, cs.Message, "not run: infra-error", cs.Name)
		}
	}
	assert.Empty(t, vmtest.ProcessesWith(t, marker), "QEMU left running")
}

// targetsNamed picks targets by name, in the order given.
func targetsNamed(t *testing.T, from []matrix.Target, names ...string) []matrix.Target {
	t.Helper()
	var out []matrix.Target
	for _, n := range names {
		for _, tg := range from {
			if tg.Name == n {
				out = append(out, tg)
			}
		}
	}
	require.Len(t, out, len(names))
	return out
}

// A kernel from local files (here: a copy of a Debian kernel, as a user
// would bring a kernel older than the archive has) runs like any other.
func TestVMLocalKernel(t *testing.T) {
	o := vmOptions(t, "", "", "arm64")
	deb, err := o.Kernels.Kernel(context.Background(), o.Targets[1], mustArch(t, "arm64"))
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range []struct{ from, to string }{{deb.Vmlinuz, "Image"}, {deb.Config, "config"}} {
		data, err := os.ReadFile(f.from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.to), data, 0o644))
	}
	mf := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(mf, []byte(`apiVersion: ksystest/v1
targets:
  - arch: arm64
    kernel: {local: {vmlinuz: Image, config: config}}
    syscallWrapper: true
`), 0o644))
	m, err := matrix.Load(mf, ksystest.Data)
	require.NoError(t, err)
	o.Matrix, o.Targets = m, m.Targets.List
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	c := res.Cells[0]
	assert.Equal(t, result.OutcomePass, c.Outcome, "%s %v", c.Reason, c.ConsoleTail)
	assert.Equal(t, "local", c.Kernel.Package)
	assert.Equal(t, deb.Release, c.Kernel.Release, "release as the guest reports it")
	assert.NotEqual(t, deb.SHA256, c.Kernel.SHA256, "the image's own hash, not the .deb's")
	assert.True(t, c.Wrapper.Agree)
}

// An x86 kernel given as its bzImage and config only: its BTF is in the
// ELF inside the bzImage (xz with the x86 branch filter), which the host
// unpacks to read it; the guest boots the bzImage as given.
func TestVMLocalBzImageHasItsBTF(t *testing.T) {
	o := vmOptions(t, "", "", "x86_64")
	deb, err := o.Kernels.Kernel(context.Background(), o.Targets[1], mustArch(t, "x86_64"))
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range []struct{ from, to string }{{deb.Vmlinuz, "bzImage"}, {deb.Config, "config"}} {
		data, err := os.ReadFile(f.from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.to), data, 0o644))
	}
	mf := filepath.Join(dir, "matrix.yaml")
	require.NoError(t, os.WriteFile(mf, []byte(`apiVersion: ksystest/v1
targets:
  - arch: x86_64
    kernel: {local: {vmlinuz: bzImage, config: config}}
    syscallWrapper: true
`), 0o644))
	m, err := matrix.Load(mf, ksystest.Data)
	require.NoError(t, err)
	o.Matrix, o.Targets = m, m.Targets.List
	o.Kernels = DebianKernels{Archive: o.Kernels.(DebianKernels).Archive, Cache: &cache.Cache{Dir: t.TempDir()}}
	res, err := Run(context.Background(), o)
	require.NoError(t, err)
	c := res.Cells[0]
	assert.Equal(t, result.OutcomePass, c.Outcome, "%s %v", c.Reason, c.ConsoleTail)
	assert.Equal(t, "vmlinuz", c.Kernel.BootImage)
	assert.Equal(t, result.BTFKernel, c.Kernel.BTF.Source)
	assert.Contains(t, c.Kernel.BTF.Shipped, "subset", "the host read the kernel's types")
}

func mustArch(t *testing.T, name string) arch.Arch {
	a, err := arch.Lookup(name)
	require.NoError(t, err)
	return a
}

// Two shards merged give the same verdicts, outcomes and order as one full
// run, with real guests.
func TestVMShardsMergeEqualsFullRun(t *testing.T) {
	o := vmOptions(t, "", "", "x86_64", "arm64", "s390x")
	o.Targets = targetsNamed(t, o.Targets, "x86_64-6.1", "arm64-6.1", "s390x-6.12")
	full, err := Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, full.Cells, 3)
	merged := runShards(t, o, 2)
	require.Len(t, merged.Cells, 3)
	assert.Equal(t, verdicts(full), verdicts(merged))
	assert.Equal(t, []string{"x86_64-6.1", "arm64-6.1", "s390x-6.12"}, targetOrder(merged))
	assert.Equal(t, 0, full.ExitCode())
	assert.Equal(t, 0, merged.ExitCode())
}

// ksystest shell gives, for every default target, a prompt where uname -m
// prints the guest's arch, and leaves no QEMU behind. The test types into
// the console as a user would.
func TestVMShell(t *testing.T) {
	o := vmOptions(t, "", "")
	f := fetcherOf(t, o)
	slots := make(chan struct{}, 3)
	for _, tg := range o.Targets {
		t.Run(tg.Name, func(t *testing.T) {
			t.Parallel()
			slots <- struct{}{}
			defer func() { <-slots }()
			a := mustArch(t, tg.Arch)
			marker := fmt.Sprintf("ksystest.shelltest=%d", time.Now().UnixNano())
			stdin, typeIn := io.Pipe()
			console := &vmtest.Buffer{}
			done := make(chan error, 1)
			go func() {
				done <- Shell(context.Background(), ShellOptions{
					Options: Options{Matrix: o.Matrix, Catalogue: o.Catalogue, Kernels: o.Kernels, Agents: o.Agents, Builtin: ksystest.Data,
						Backend: vm.QEMU{}, ExtraCmdline: []string{marker}, Busybox: f.Busybox},
					Target: tg, Stdin: stdin, Stdout: console,
				})
			}()
			require.True(t, console.WaitFor(ShellPrompt, 2*time.Minute), "no prompt; console:\n%s", console.String())
			fmt.Fprintf(typeIn, "echo machine=$(uname -m)\n")
			require.True(t, console.WaitFor("machine="+a.UnameMachine+"\r\n", time.Minute), "console:\n%s", console.String())
			// The agent and probes are there to run by hand: it exits 0,
			// having reported every case and done, and no error. (Its
			// events go to /, not /tmp: the agent mounts a tmpfs of its
			// own there.)
			fmt.Fprintf(typeIn, "/ksystest/agent >/events; echo agent-exit=$? cases=$(grep -c '\"type\":\"case\"' /events)"+
				" done=$(grep -c '\"type\":\"done\"' /events) errors=$(grep -c '\"type\":\"error\"' /events)\n")
			want := fmt.Sprintf("agent-exit=0 cases=%d done=1 errors=0\r\n", len(o.Catalogue.Plan(a, sysparams.Kernel{})))
			require.True(t, console.WaitFor(want, time.Minute), "want %q; console:\n%s", want, console.String())
			fmt.Fprintf(typeIn, "exit\n")
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(time.Minute):
				t.Fatalf("the guest did not power off; console:\n%s", console.String())
			}
			typeIn.Close()
			assert.Empty(t, vmtest.ProcessesWith(t, marker), "QEMU left running")
		})
	}
}
