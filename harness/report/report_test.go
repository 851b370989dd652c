package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ksystest/ksystest/harness/result"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

func u64(v uint64) *uint64 { return &v }

var yes = true

var zero = 0

// sampleRun has one cell of each kind a reader must be able to read.
func sampleRun() *result.Run {
	kernel := result.Kernel{Package: "linux-image-6.1.0-50-amd64", Version: "6.1.176-1", Suite: "bookworm", BTF: &result.BTF{Source: "kernel"},
		SHA256: "7b5597492a0a65aee61985a492e6bcc3f2cde830072a0e3b3d8c7e1b90279bd3", Release: "6.1.0-50-amd64"}
	pass := result.Case{Name: "write", Probe: "ksys_write", Syscall: "write", Attach: "sys_write", Verdict: result.Pass, Captures: 1,
		Args: []result.Arg{{Name: "file", Expect: "match", Passed: 3, Captured: u64(3), OK: true}},
		Kernel: &result.KernelNames{Names: []string{"fd"}, Source: "kernel source 6.12.95 fs/read_write.c:737", Catalogue: []string{"file"}, Agree: true,
			Note: `notice: label "file" (argument 1) names no parameter of the kernel's (fd) from kernel source 6.12.95 fs/read_write.c:737: taken as "fd"`}}
	fail := result.Case{Name: "splice", Probe: "wrong_splice", Syscall: "splice", Attach: "sys_splice", Verdict: result.Fail, Captures: 1,
		Message: "arg 4 (off_out) expected 0x4444000000004404, captured 0x40a96e",
		Oracle:  &result.Oracle{Source: "raw_syscalls/sys_enter", Status: result.OracleAgrees, NR: 275},
		Args: []result.Arg{
			{Name: "fd_in", Expect: "match", Passed: 0x7ffff001, Captured: u64(0x7ffff001), OK: true},
			{Name: "off_out", Expect: "match", Passed: 0x4444000000004404, Captured: u64(0x40a96e), Tracepoint: u64(0x4444000000004404), Note: "unrelated value"},
			{Name: "flags", Expect: "ignore", Passed: 0x66000006, Captured: u64(0), OK: true},
		}}
	cloneNaive := result.Case{Name: "clone-naive", Probe: "naive_clone", Syscall: "clone", Quirk: "clone", Role: "naive", Verdict: result.Pass, Captures: 1}
	cloneSwapped := cloneNaive
	cloneSwapped.Verdict, cloneSwapped.Predicted = result.QuirkConfirmed, "args 1 and 2 swapped (CONFIG_CLONE_BACKWARDS2)"
	cloneSwapped.Message = "args 1 (flags) and 2 (newsp) arrive swapped, as predicted"
	cloneSwapped.Kernel = &result.KernelNames{Names: []string{"newsp", "clone_flags"}, Source: "config CONFIG_CLONE_BACKWARDS2",
		Catalogue: []string{"newsp", "flags"}, Agree: true}
	cloneSwapped.Args = []result.Arg{
		{Name: "flags", Expect: "match", Passed: 0x811, Captured: u64(0x2202), Tracepoint: u64(0x811), Note: "equals passed arg 2 (newsp), as predicted"},
		{Name: "newsp", Expect: "match", Passed: 0x2202, Captured: u64(0x811), Tracepoint: u64(0x2202), Note: "equals passed arg 1 (flags), as predicted"},
	}
	fail.Kernel = &result.KernelNames{Agree: true, Note: "no prototype in BTF (only the pt_regs wrapper)"}
	cloneAware := result.Case{Name: "clone-aware", Probe: "aware_clone", Syscall: "clone", Quirk: "clone", Role: "aware", Verdict: result.Handled, Captures: 1}
	wl := result.Case{Name: "workload-client", Verdict: result.Fail,
		Message: "1 of 3 calls wrong (3 calls made, 2 captured, 1 matching, 1 explained by a predicted quirk, 1 wrong)",
		Workload: &result.Workload{Program: "client",
			Runs: []result.WorkloadRun{{Probes: []string{"naive_connect"}}},
			Probes: []result.WorkloadProbe{{Program: "naive_connect", Syscall: "connect", Forms: []string{"connect (nr 362, direct)", "socketcall (nr 102, socketcall)"},
				WorkloadCounts: result.WorkloadCounts{Made: 3, Captured: 2, Matching: 1, Explained: 1, Wrong: 1}}},
			Summary: result.WorkloadCounts{Made: 3, Captured: 2, Matching: 1, Explained: 1, Wrong: 1},
			Calls: []result.WorkloadCall{
				{Program: "naive_connect", TID: 122, NR: 102, Form: "socketcall", Verdict: result.CallExplained,
					Note: "not seen: it entered sys_socketcall (nr 102), as case connect-go-naive predicts (never fires: Go calls socketcall)",
					Args: []result.Arg{{Name: "fd", Passed: 4, Expect: "match"}, {Name: "sockaddr", Expect: "ignore", Note: "not in the tracepoint's record"}}},
				{Program: "naive_connect", TID: 122, NR: 362, Form: "direct", Verdict: result.CallWrong, Note: "arg 1 (fd): tracepoint 0x4, probe 0x5",
					Args: []result.Arg{{Name: "fd", Passed: 4, Captured: u64(5), Expect: "match"}, {Name: "sockaddr", Passed: 0x100007f, Captured: u64(0x100007f), Expect: "match", OK: true}}},
			}}}
	missed := result.Case{Name: "splice", Probe: "ksys_splice", Syscall: "splice", Verdict: result.Fail, NotRun: true,
		Message: "not run: crash", Args: []result.Arg{{Name: "fd_in", Expect: "match", Note: "not run"}}}
	// Cells the host or the config stopped: their cases are not run, not
	// failed, even those judged before (a QEMU killed mid-run).
	notRun := func(cs result.Case, why string) result.Case {
		return result.Case{Name: cs.Name, Probe: cs.Probe, Syscall: cs.Syscall, Quirk: cs.Quirk, Role: cs.Role,
			Verdict: result.Fail, NotRun: true, Message: "not run: " + why}
	}
	return &result.Run{
		Schema: result.SchemaVersion, Matrix: "matrix.yaml", WallSec: 12.3,
		Started: time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC),
		Cells: []result.Cell{
			{Target: "x86_64-6.1", Arch: "x86_64", Kernel: kernel, Accel: "tcg", Outcome: result.OutcomeFail,
				Wrapper: &result.Wrapper{Declared: true, Config: &yes, Guest: &yes, Loader: &yes, Agree: true},
				Timings: result.Timings{AgentStartSec: 4.6, DoneSec: 5.5, ExitSec: 5.5}, Cases: []result.Case{pass, fail, cloneNaive, cloneAware, wl},
				ConsoleLog: "x86_64-6.1/console.log",
				Builds: []result.Build{{Collection: "mine", Source: "mine.bpf.c", Object: "mine.o",
					Warnings: "mine.bpf.c:9:22: warning: cast to 'const void *' from smaller integer type 'int' [-Wint-to-pointer-cast]"}},
				Collections: []result.CollectionLoad{{Name: "ksystest", Loader: "ksystest"},
					{Name: "mine@cilium/ebpf", Loader: "cilium/ebpf", LoaderVersion: "v0.22.0", Wrapper: &zero},
					{Name: "mine@libbpf-1.5", Loader: "libbpf-1.5", Error: "libbpf 1.5 (Debian 1:1.5.0-3) refuses it: failed to find kernel BTF\nlibbpf: more"}},
				Notes: []string{"collection other: Debian ships no libbpf-1.1 for riscv64, so its cases are not run under it here"}},
			{Target: "arm64-6.1", Arch: "arm64", Kernel: kernel, Accel: "tcg", Outcome: result.OutcomePass,
				Wrapper: &result.Wrapper{Declared: false, Config: &yes, Guest: &yes, Loader: &yes, Agree: false,
					ResolvedBy: "ksystest from /proc/kallsyms, because cilium/ebpf failed: invalid argument"},
				Timings: result.Timings{AgentStartSec: 1.4, DoneSec: 2.3, ExitSec: 2.3}, Cases: []result.Case{pass, cloneSwapped, cloneAware},
				Builds: []result.Build{{Collection: "mine", Source: "mine.bpf.c", Object: "mine.o",
					Warnings: "mine.bpf.c:9:22: warning: cast to 'const void *' from smaller integer type 'int' [-Wint-to-pointer-cast]"}}},
			{Target: "s390x-6.12", Arch: "s390x", Accel: "tcg", Outcome: result.OutcomeCrash,
				Reason:  "kernel: [    1.63] Kernel panic - not syncing: VFS: Unable to mount root fs",
				Timings: result.Timings{ExitSec: 1.7}, Cases: []result.Case{missed},
				ConsoleLog: "s390x-6.12/console.log", ConsoleTail: []string{"[    1.63] Kernel panic - not syncing: VFS: Unable to mount root fs", "[    1.64] ret_from_fork+0xa/0x38"}},
			{Target: "arm-6.1", Arch: "arm", Kernel: kernel, Accel: "tcg", Outcome: result.OutcomeInfraError,
				Reason:  "QEMU was killed by signal 9 (killed), not by ksystest: the kernel's OOM killer, or a kill from outside",
				Timings: result.Timings{AgentStartSec: 3.1, ExitSec: 3.9}, Cases: []result.Case{pass, notRun(fail, "infra-error"), notRun(cloneNaive, "infra-error")},
				ConsoleLog: "arm-6.1/console.log", ConsoleTail: []string{"[    3.10] random: crng init done"}},
			{Target: "ppc64le-6.1", Arch: "ppc64le", Outcome: result.OutcomeConfigError,
				Reason: "collection mine: mine.bpf.c:3:1: error: unknown type name 'u33'",
				Cases:  []result.Case{notRun(pass, "mine.bpf.c:3:1: error: unknown type name 'u33'")}},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create")
	assert.Equal(t, string(want), string(got))
}

func TestTableGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, Table(&b, sampleRun()))
	golden(t, "table.golden", b.Bytes())
}

func TestCasesGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, Cases(&b, sampleRun()))
	golden(t, "cases.golden", b.Bytes())
}

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, Markdown(&b, sampleRun(), "ksystest-out"))
	golden(t, "report.golden.md", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, JSON(&b, sampleRun()))
	golden(t, "results.golden.json", b.Bytes())
}

func TestExitCode(t *testing.T) {
	r := sampleRun()
	assert.Equal(t, 1, r.ExitCode(), "fail and crash are findings")
	r.Cells = r.Cells[1:2]
	assert.Equal(t, 0, r.ExitCode())
	r.Cells = append(r.Cells, result.Cell{Outcome: result.OutcomeBootError})
	assert.Equal(t, 3, r.ExitCode())
	r.Cells = append(r.Cells, result.Cell{Outcome: result.OutcomeConfigError})
	assert.Equal(t, 2, r.ExitCode(), "a config error outranks infrastructure")
	r.Cells = append(r.Cells, result.Cell{Outcome: result.OutcomeTimeout})
	assert.Equal(t, 1, r.ExitCode(), "a finding outranks the others")
	r.Cells = []result.Cell{{Outcome: result.OutcomeFail}, {Outcome: result.OutcomeConfigError}}
	assert.Equal(t, 1, r.ExitCode(), "whatever the order")
}

// Every outcome is counted in the summary line, config errors included.
func TestSummaryCountsEveryOutcome(t *testing.T) {
	r := &result.Run{Cells: []result.Cell{{Outcome: result.OutcomePass}, {Outcome: result.OutcomeConfigError}}}
	assert.Equal(t, "2 targets: 1 pass, 1 config-error", summary(r))
}

// A case of a target the host or the config stopped reads "not run" in
// every report, never FAIL; a case a crash cut short stays FAIL (the
// crash is the finding), and one judged before the host failed keeps its
// verdict.
func TestNotRunIsNotFail(t *testing.T) {
	var md, table bytes.Buffer
	require.NoError(t, Markdown(&md, sampleRun(), ""))
	require.NoError(t, Table(&table, sampleRun()))
	assert.Contains(t, md.String(), "| splice | ❌ FAIL | - | ❌ FAIL | ⬜ not run | - |")
	assert.Contains(t, md.String(), "| write | ✅ pass | ✅ pass | - | ✅ pass | ⬜ not run |")
	assert.Regexp(t, `(?m)^splice\s+FAIL\s+-\s+FAIL\s+not run\s+-$`, table.String())
	assert.Regexp(t, `(?m)^write\s+pass\s+pass\s+-\s+pass\s+not run$`, table.String())
}
