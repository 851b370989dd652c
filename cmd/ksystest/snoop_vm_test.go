package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/result"
)

// examples/snoop, tools written the way libbpf-tools are (their own ring
// buffer or perf buffer, records with the path and the socket address
// copied from the caller), run as its README says, passes on every target
// of the default matrix: each field of each record as passed, the
// strings and addresses by content, and where a loader or the kernel
// cannot load the tools, the refusal its config declares, with the
// loader's error.
func TestVMSnoopExample(t *testing.T) {
	targets := defaultTargets(t)
	requireVMs(t, targets)
	dir := project(t, "../../examples/snoop")
	code, _, errs := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--out", "out")
	require.Equal(t, 0, code, errs)

	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, len(targets))
	// Where the config says a loader refuses a collection (and why).
	refuses := map[string][]string{
		"cilium/ebpf": {"arm-6.1", "arm-6.12", "mips64el-6.12", "ppc64le-6.12", "riscv64-6.12"},
		"libbpf":      {"ppc64le-6.1", "ppc64le-6.12", "riscv64-6.12"},
	}
	ringbuf := map[string]bool{"opensnoop-openat": true, "netsnoop-connect": true, "netsnoop-sendto": true,
		"opensnoop-client": true, "netsnoop-client": true, "netsnoop-httpget": true}
	refused, contents, differs, workloads := 0, 0, 0, 0
	for _, c := range r.Cells {
		assert.Equal(t, result.OutcomePass, c.Outcome, "%s: %s", c.Target, c.Reason)
		if c.Arch == "i386" {
			assert.Empty(t, c.Cases, "the example's cases exclude i386")
			continue
		}
		// Four cases and four workloads, two loaders.
		require.Len(t, c.Cases, 16, c.Target)
		for _, cs := range c.Cases {
			require.NotNil(t, cs.Loader, "%s/%s", c.Target, cs.Name)
			base, _, _ := strings.Cut(cs.Name, "@")
			family := cs.Loader.Name
			if strings.HasPrefix(family, "libbpf-") {
				family = "libbpf"
			}
			if slices.Contains(refuses[family], c.Target) || c.Target == "x86_64-ubuntu-5.4" && ringbuf[base] {
				assert.Equal(t, result.QuirkConfirmed, cs.Verdict, "%s/%s: %s", c.Target, cs.Name, cs.Message)
				assert.Contains(t, cs.Message, "refused, as declared: ", "%s/%s", c.Target, cs.Name)
				refused++
				continue
			}
			if w := cs.Workload; w != nil {
				assert.NotZero(t, w.Summary.Made, "%s/%s", c.Target, cs.Name)
				workloads++
				// The workloads' own quirks: netsnoop never sees s390x's
				// socketcall connects; on ppc64le-6.1 cilium/ebpf's tools
				// read the wrapper's registers.
				if c.Arch == "s390x" && strings.HasPrefix(base, "netsnoop-") || c.Arch == "ppc64le" {
					assert.Equal(t, result.QuirkConfirmed, cs.Verdict, "%s/%s: %s", c.Target, cs.Name, cs.Message)
					assert.Equal(t, w.Summary.Made, w.Summary.Explained, "%s/%s", c.Target, cs.Name)
					continue
				}
				// Every call the program made is in a record, as passed.
				assert.Equal(t, result.Pass, cs.Verdict, "%s/%s: %s", c.Target, cs.Name, cs.Message)
				assert.Equal(t, w.Summary.Made, w.Summary.Matching, "%s/%s", c.Target, cs.Name)
				continue
			}
			assert.Equal(t, result.Pass, cs.Verdict, "%s/%s: %s", c.Target, cs.Name, cs.Message)
			require.Len(t, cs.Sets, 1, "%s/%s", c.Target, cs.Name)
			set := cs.Sets[0]
			assert.True(t, set.OK, "%s/%s: %s", c.Target, cs.Name, set.Message)
			for _, a := range set.Args {
				if a.Expect == matrix.ExpectIgnore {
					continue
				}
				assert.True(t, strings.HasPrefix(a.From, "field "), "%s/%s/%s read from %q", c.Target, cs.Name, a.Name, a.From)
				switch {
				case a.Expect == matrix.ExpectDiffer:
					// ppc64le-6.1 under cilium/ebpf: the wrapper's registers.
					differs++
					assert.Equal(t, "ppc64le-6.1", c.Target, "%s/%s", cs.Name, a.Name)
				case a.PassedContent != "":
					contents++
					assert.Equal(t, a.PassedContent, a.CapturedContent, "%s/%s/%s", c.Target, cs.Name, a.Name)
				default:
					require.NotNil(t, a.Captured, "%s/%s/%s", c.Target, cs.Name, a.Name)
					assert.Equal(t, a.Passed, *a.Captured, "%s/%s/%s", c.Target, cs.Name, a.Name)
				}
			}
		}
	}
	assert.NotZero(t, contents, "paths and socket addresses were compared by content")
	assert.NotZero(t, differs, "the readings of the wrapper's registers on ppc64le-6.1 were checked")
	assert.Equal(t, 38+38, refused, "every declared refusal was checked, the workloads' too")
	assert.NotZero(t, workloads, "the tools were checked under the workloads")
}

// snoopOn runs examples/snoop, changed by edit, on one target, and
// returns its exit code, the report and the target's cell.
func snoopOn(t *testing.T, target string, edit func(dir string)) (int, string, result.Cell) {
	t.Helper()
	var targets []matrix.Target
	for _, tg := range defaultTargets(t) {
		if tg.Name == target {
			targets = append(targets, tg)
		}
	}
	require.Len(t, targets, 1)
	requireVMs(t, targets)
	dir := project(t, "../../examples/snoop")
	edit(dir)
	code, stdout, _ := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--only", target, "--out", "out")
	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, 1)
	return code, stdout, r.Cells[0]
}

// replaceIn replaces old with new in file, which must hold old.
func replaceIn(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Contains(t, string(data), old)
	require.NoError(t, os.WriteFile(file, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644))
}

// opensnoop with a bug on purpose, flags and mode swapped as it fills its
// event: under both loaders the report names the call, both fields and
// both values; the tools without the bug still pass.
func TestVMSnoopSwappedFields(t *testing.T) {
	code, stdout, c := snoopOn(t, "x86_64-6.12", func(dir string) {
		replaceIn(t, filepath.Join(dir, "opensnoop.bpf.c"), "e->flags = flags;\n\te->mode = mode;", "e->flags = mode;\n\te->mode = flags;")
	})
	assert.Equal(t, 1, code, "a swap is a finding")
	assert.Equal(t, result.OutcomeFail, c.Outcome)
	swapped, wrongCalls := 0, 0
	for _, cs := range c.Cases {
		if strings.HasPrefix(cs.Name, "opensnoop-client@") {
			// Under the C client too: its open(O_RDWR|O_CREAT|O_TRUNC,
			// 0600) recorded with flags and mode swapped.
			wrongCalls++
			assert.Equal(t, result.Fail, cs.Verdict, cs.Name)
			require.NotNil(t, cs.Workload, cs.Name)
			assert.Equal(t, cs.Workload.Summary.Made, cs.Workload.Summary.Wrong, cs.Name)
			require.NotEmpty(t, cs.Workload.Calls, cs.Name)
			assert.Equal(t, "arg 3 (flags): tracepoint 0x242, probe 0x180", cs.Workload.Calls[0].Note, cs.Name)
			continue
		}
		if !strings.HasPrefix(cs.Name, "opensnoop-openat@") {
			assert.Equal(t, result.Pass, cs.Verdict, "%s: %s", cs.Name, cs.Message)
			continue
		}
		swapped++
		assert.Equal(t, result.Fail, cs.Verdict, cs.Name)
		assert.Equal(t, "capture set event: args 3 (flags) and 4 (mode) are swapped: field flags holds 0x1a0, passed as mode; field mode holds 0xa0000, passed as flags", cs.Message, cs.Name)
		require.Len(t, cs.Sets, 1)
		args := cs.Sets[0].Args
		require.Len(t, args, 4)
		assert.True(t, args[0].OK && args[1].OK, "%s: dfd and the path are right", cs.Name)
		assert.Equal(t, "field flags", args[2].From)
		require.NotNil(t, args[2].Captured)
		assert.Equal(t, uint64(0x1a0), *args[2].Captured)
		assert.Equal(t, uint64(0xa0000), args[2].Passed)
	}
	assert.Equal(t, 2, swapped, "under cilium/ebpf and libbpf")
	assert.Equal(t, 2, wrongCalls, "the workload under cilium/ebpf and libbpf")
	assert.Regexp(t, `opensnoop-openat@cilium/ebpf\s+FAIL`, stdout)
	assert.Contains(t, stdout, "args 3 (flags) and 4 (mode) are swapped: field flags holds 0x1a0, passed as mode; field mode holds 0xa0000, passed as flags")
}

// opensnoop built with room for 16 bytes of path (PATH_LEN, as a user
// would set it for a smaller record): the path the call passed is cut
// short in every record, reported as truncated, not as a mismatch; every
// other field is right.
func TestVMSnoopTruncatedPath(t *testing.T) {
	code, stdout, c := snoopOn(t, "x86_64-6.12", func(dir string) {
		cfg := filepath.Join(dir, "ksystest.yaml")
		replaceIn(t, cfg, "    source: opensnoop.bpf.c\n", "    source: opensnoop.bpf.c\n    defines: {PATH_LEN: \"16\"}\n")
		replaceIn(t, cfg, "    source: opensnoop_perf.bpf.c\n", "    source: opensnoop_perf.bpf.c\n    defines: {PATH_LEN: \"16\"}\n")
	})
	assert.Equal(t, 1, code, "a path cut short is a finding")
	truncated, workloadTruncated := 0, 0
	for _, cs := range c.Cases {
		if cs.Workload != nil && strings.HasPrefix(cs.Name, "opensnoop-") {
			// Under the workloads too: the paths the programs open are
			// cut short in the records, said as such.
			workloadTruncated++
			assert.Equal(t, result.Fail, cs.Verdict, cs.Name)
			require.NotEmpty(t, cs.Workload.Calls, cs.Name)
			call := cs.Workload.Calls[0]
			assert.Contains(t, call.Note, "arg 2 (filename): truncated: the field (char[16]) holds the first 15 of the string's", cs.Name)
			require.Len(t, call.Args, 4, cs.Name)
			assert.True(t, call.Args[1].Truncated, cs.Name)
			continue
		}
		if strings.HasPrefix(cs.Name, "netsnoop-") {
			assert.Equal(t, result.Pass, cs.Verdict, "%s: %s", cs.Name, cs.Message)
			continue
		}
		assert.Equal(t, result.Fail, cs.Verdict, cs.Name)
		require.Len(t, cs.Sets, 1)
		args := cs.Sets[0].Args
		require.Len(t, args, 4)
		for i, a := range args {
			if i != 1 {
				assert.True(t, a.OK, "%s/%s: %s", cs.Name, a.Name, a.Note)
				continue
			}
			truncated++
			assert.False(t, a.OK, cs.Name)
			assert.True(t, a.Truncated, "%s: %s", cs.Name, a.Note)
			assert.Equal(t, "truncated: the field (char[16]) holds the first 15 of the string's 36 bytes", a.Note, cs.Name)
			assert.Equal(t, `"/tmp/ksystest-opensnoop/no/such/file"`, a.PassedContent)
			assert.Equal(t, `"/tmp/ksystest-o"`, a.CapturedContent)
		}
		assert.Contains(t, cs.Message, "arg 2 (filename) from field path: truncated", cs.Name)
		assert.NotContains(t, cs.Message, "differs", cs.Name)
	}
	assert.Equal(t, 4, truncated, "opensnoop and opensnoop_perf, under cilium/ebpf and libbpf")
	assert.Equal(t, 4, workloadTruncated, "opensnoop under the client, opensnoop_perf under net/http, both loaders")
	assert.Contains(t, stdout, "truncated: the field (char[16]) holds the first 15 of the string's 36 bytes")
}

// examples/snoop's tools under ksystest's workloads, the C client and Go's
// net/http client, on x86_64-6.12 and arm64-6.12, under cilium/ebpf and
// libbpf: each tool loaded for each run with targ_tgid the program's
// PID, every openat and connect the program made found in one record of
// the tool's own ring buffer or perf buffer, each number field as the
// raw_syscalls/sys_enter tracepoint saw the call pass it, each path and
// socket address as the tracepoint copied it at the call's entry
// (TestVMSnoopTruncatedPath shows them compared). And the workloads' own
// per-arch quirks: on s390x-6.12 netsnoop never sees the programs'
// connects, which go through socketcall; on ppc64le-6.1 cilium/ebpf's
// tools read the wrapper's registers for every call (libbpf refuses them
// there, as declared); on mips64el-6.12, whose kernel oopses when the
// tracepoint copies a string from a page not yet faulted in, the paths
// are not copied at entry, and every call matches in its numbers.
func TestVMSnoopWorkloads(t *testing.T) {
	names := []string{"x86_64-6.12", "arm64-6.12", "s390x-6.12", "ppc64le-6.1", "mips64el-6.12"}
	var targets []matrix.Target
	for _, tg := range defaultTargets(t) {
		if slices.Contains(names, tg.Name) {
			targets = append(targets, tg)
		}
	}
	require.Len(t, targets, len(names))
	requireVMs(t, targets)
	dir := project(t, "../../examples/snoop")
	code, stdout, errs := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--only", strings.Join(names, ","), "--out", "out")
	require.Equal(t, 0, code, errs)
	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, len(names))
	for _, c := range r.Cells {
		var seen []string
		for _, cs := range c.Cases {
			if cs.Workload == nil {
				continue
			}
			seen = append(seen, cs.Name)
			where := c.Target + "/" + cs.Name
			s := cs.Workload.Summary
			switch {
			case c.Target == "ppc64le-6.1" && strings.HasSuffix(cs.Name, "@libbpf-1.5"),
				c.Target == "mips64el-6.12" && strings.HasSuffix(cs.Name, "@cilium/ebpf"):
				assert.Equal(t, result.QuirkConfirmed, cs.Verdict, "%s: %s", where, cs.Message)
				assert.Contains(t, cs.Message, "refused, as declared", where)
				continue
			case c.Target == "ppc64le-6.1", c.Target == "s390x-6.12" && strings.HasPrefix(cs.Name, "netsnoop-"):
				// Every call explained by the workload's quirk.
				assert.Equal(t, result.QuirkConfirmed, cs.Verdict, "%s: %s", where, cs.Message)
				assert.NotZero(t, s.Made, where)
				assert.Equal(t, s.Made, s.Explained, "%s: %+v", where, s)
				assert.Zero(t, s.Wrong, where)
				require.NotEmpty(t, cs.Workload.Calls, where)
				want := "reads registers that are not the call's"
				if c.Target == "s390x-6.12" {
					want = "not seen: it entered sys_socketcall (nr 102), as case " + strings.TrimSuffix(strings.TrimSuffix(cs.Name, "@cilium/ebpf"), "@libbpf-1.5") + " predicts (never fires"
				}
				assert.Contains(t, cs.Workload.Calls[0].Note, want, where)
			default:
				assert.Equal(t, result.Pass, cs.Verdict, "%s: %s", where, cs.Message)
				assert.NotZero(t, s.Made, where)
				assert.Equal(t, result.WorkloadCounts{Made: s.Made, Captured: s.Made, Matching: s.Made}, s, where)
			}
			for _, run := range cs.Workload.Runs {
				assert.Equal(t, 0, run.Exit, where)
			}
		}

		libbpf := "libbpf-1.5"
		if c.Target == "mips64el-6.12" {
			libbpf = "libbpf-1.1" // the newest Debian ships for mips64el
		}
		var want []string
		for _, w := range []string{"opensnoop-client", "opensnoop-perf-httpget", "netsnoop-client", "netsnoop-httpget"} {
			want = append(want, w+"@cilium/ebpf", w+"@"+libbpf)
		}
		assert.ElementsMatch(t, want, seen, c.Target)
	}
	// Columns: x86_64-6.12, arm64-6.12, s390x-6.12, mips64el-6.12,
	// ppc64le-6.1 (the matrix's order).
	assert.Regexp(t, `netsnoop-httpget@libbpf-1.5\s+pass\s+pass\s+quirk\s+-\s+quirk\n`, stdout)
	// mips64el-6.12's kernel oopses when the tracepoint copies a path
	// from a page not yet faulted in: no path is copied there, and the
	// guest lives (the row above would say crash).
	assert.Regexp(t, `netsnoop-httpget@libbpf-1.1\s+-\s+-\s+-\s+pass\s+-\n`, stdout)
}
