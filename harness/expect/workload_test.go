package expect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ksystest "github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
)

// workloadPlan plans the client workload on an arch, clone's order from
// config (arm64: CONFIG_CLONE_BACKWARDS; s390x: _BACKWARDS2).
func workloadPlan(t *testing.T, archName string, config map[string]string) matrix.Planned {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ksystest.yaml")
	require.NoError(t, os.WriteFile(f, []byte("apiVersion: ksystest/v1\ntargets: default\ncatalogues: [builtin, builtin-workloads]\n"), 0o644))
	m, err := matrix.Load(f, ksystest.Data)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	require.NoError(t, err)
	a, err := arch.Lookup(archName)
	require.NoError(t, err)
	for _, p := range cat.Plan(a, sysparams.Kernel{Config: func(n string) string { return config[n] }}) {
		if p.Name == "workload-client" {
			require.NotNil(t, p.Workload)
			return p
		}
	}
	t.Fatal("no workload-client")
	return matrix.Planned{}
}

// round builds one run's result: every probe's program attached, exit 0.
func round(calls ...proto.WorkloadCall) proto.WorkloadRound {
	return proto.WorkloadRound{Calls: calls}
}

func rounds(p matrix.Planned, calls ...proto.WorkloadCall) *proto.WorkloadResult {
	res := &proto.WorkloadResult{}
	for range p.Workload.Rounds {
		res.Rounds = append(res.Rounds, round())
	}
	for _, c := range calls {
		for i, r := range p.Workload.Rounds {
			for _, pr := range r {
				if pr.Program == c.Program {
					res.Rounds[i].Calls = append(res.Rounds[i].Calls, c)
				}
			}
		}
	}
	return res
}

func judge(p matrix.Planned, w *proto.WorkloadResult) result.Case {
	return Compare(p, "", proto.CaseResult{Name: p.Name, Workload: w})
}

var writeCall = proto.WorkloadCall{TID: 7, NR: 1, Program: "ksys_write", Args: []uint64{1, 0x5000, 13, 0, 0, 0}}

func with(c proto.WorkloadCall, captured ...[]uint64) proto.WorkloadCall {
	c.Captured = captured
	return c
}

func TestWorkloadMatch(t *testing.T) {
	p := workloadPlan(t, "x86_64", nil)
	c := judge(p, rounds(p, with(writeCall, []uint64{1, 0x5000, 13})))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	assert.Equal(t, result.WorkloadCounts{Made: 1, Captured: 1, Matching: 1}, c.Workload.Summary)
	assert.Equal(t, "1 calls made, 1 captured, 1 matching, 0 explained by a predicted quirk, 0 wrong", c.Message)
}

// Each way a probe can be wrong fails the case, and shows the call.
func TestWorkloadWrong(t *testing.T) {
	p := workloadPlan(t, "x86_64", nil)
	for name, call := range map[string]proto.WorkloadCall{
		"a wrong value":     with(writeCall, []uint64{1, 0x5000, 14}),
		"a wrong 6th value": with(proto.WorkloadCall{TID: 7, NR: 9, Program: "aware_mmap", Args: []uint64{0, 4096, 3, 0x22, 0xffffffffffffffff, 0x1000}}, []uint64{0, 4096, 3, 0x22, 0xffffffffffffffff, 0}),
		"not seen":          writeCall,
		"reported twice":    with(writeCall, []uint64{1, 0x5000, 13}, []uint64{1, 0x5000, 13}),
		"a short report":    with(writeCall, []uint64{1}),
		"an empty report":   with(writeCall, []uint64{}),
	} {
		c := judge(p, rounds(p, call))
		assert.Equal(t, result.Fail, c.Verdict, name)
		assert.Equal(t, 1, c.Workload.Summary.Wrong, name)
		require.Len(t, c.Workload.Calls, 1, name)
		assert.Equal(t, result.CallWrong, c.Workload.Calls[0].Verdict, name)
	}
}

// A run that failed, lost records or has reports with no call before
// them fails the case whatever its calls; so does a run of no watched
// call at all.
func TestWorkloadRunProblems(t *testing.T) {
	p := workloadPlan(t, "x86_64", nil)
	good := with(writeCall, []uint64{1, 0x5000, 13})
	for name, mutate := range map[string]func(*proto.WorkloadResult){
		"exit 1":          func(w *proto.WorkloadResult) { w.Rounds[0].Exit, w.Rounds[0].Stderr = 1, "client: connect: refused\n" },
		"killed":          func(w *proto.WorkloadResult) { w.Rounds[1].Signal = "SIGKILL" },
		"lost records":    func(w *proto.WorkloadResult) { w.Rounds[0].Lost = 3 },
		"an orphan":       func(w *proto.WorkloadResult) { w.Rounds[0].Orphans = [][]uint64{{1, 2}} },
		"an agent error":  func(w *proto.WorkloadResult) { w.Rounds[0].Error = "read ring buffer: EBADF" },
		"a missing round": func(w *proto.WorkloadResult) { w.Rounds = w.Rounds[:1] },
		"no calls":        func(w *proto.WorkloadResult) { w.Rounds[0].Calls = nil },
	} {
		w := rounds(p, good)
		mutate(w)
		c := judge(p, w)
		assert.Equal(t, result.Fail, c.Verdict, name)
	}
	c := judge(p, rounds(p, good))
	assert.Equal(t, result.Pass, c.Verdict)
	c = Missing(p, "x86_64", "not run: crash")
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, "not run: crash", c.Message)
}

// A predicted swap explains a reading with exactly those two swapped,
// both ways; one half of it is wrong.
func TestWorkloadPredictedSwap(t *testing.T) {
	p := workloadPlan(t, "arm64", map[string]string{"CLONE_BACKWARDS": "y"})
	// arm64 registers: flags, newsp, parent_tid, tls, child_tid.
	call := proto.WorkloadCall{TID: 9, NR: 220, Program: "naive_clone", Args: []uint64{0x1200011, 0, 0, 0x7000, 0x8000, 0}}
	c := judge(p, rounds(p, with(call, []uint64{0x1200011, 0, 0, 0x7000, 0x8000})))
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, "every call explained: "+c.Message)
	assert.Equal(t, 1, c.Workload.Summary.Explained, "read with x86_64's order, as predicted")

	c = judge(p, rounds(p, with(call, []uint64{0x1200011, 0, 0, 0x8000, 0x8000})))
	assert.Equal(t, result.Fail, c.Verdict, "half a swap")
	c = judge(p, rounds(p, with(call, []uint64{0x1200011, 0, 0, 0x7000, 0x7000})))
	assert.Equal(t, result.Fail, c.Verdict, "the other half")

	// The aware probe must recover the order itself.
	aware := call
	aware.Program = "aware_clone"
	c = judge(p, rounds(p, with(aware, []uint64{0x1200011, 0, 0, 0x8000, 0x7000})))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	assert.Equal(t, 1, c.Workload.Summary.Matching)
	c = judge(p, rounds(p, with(aware, []uint64{0x1200011, 0, 0, 0x7000, 0x8000})))
	assert.Equal(t, result.Fail, c.Verdict)
}

// "Never fires" explains a call the probe cannot see (it went through
// socketcall), not one on the path the probe attaches.
func TestWorkloadNeverExplainsOnlyElsewhere(t *testing.T) {
	p := workloadPlan(t, "s390x", nil)
	viaSocketcall := proto.WorkloadCall{TID: 5, NR: 102, Program: "naive_connect", Args: []uint64{3, 0x3ff000, 0, 0, 0, 0},
		Deref: []uint64{4, 0x3ff100, 16}}
	c := judge(p, rounds(p, viaSocketcall))
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, "every call explained: "+c.Message)
	assert.Equal(t, 1, c.Workload.Summary.Explained)

	direct := proto.WorkloadCall{TID: 5, NR: 362, Program: "naive_connect", Args: []uint64{4, 0x3ff100, 16, 0, 0, 0}, Deref: []uint64{0x0200_0050_7f00_0001}}
	c = judge(p, rounds(p, direct))
	assert.Equal(t, result.Fail, c.Verdict, "a direct connect must be seen")

	// socketcall of another call is not a connect at all.
	bind := viaSocketcall
	bind.Args = []uint64{2, 0x3ff000, 0, 0, 0, 0}
	c = judge(p, rounds(p, bind, with(writeCallS390x, []uint64{1, 0x5000, 13})))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	assert.Equal(t, 1, c.Workload.Summary.Made, "only the write counts")

	// The aware probe decodes socketcall's array: compared with it.
	aware := viaSocketcall
	aware.Program = "aware_connect"
	c = judge(p, rounds(p, with(aware, []uint64{4, 0x3ff100, 16, 0xdead})))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	c = judge(p, rounds(p, with(aware, []uint64{4, 0x3ff100, 17, 0xdead})))
	assert.Equal(t, result.Fail, c.Verdict)
}

var writeCallS390x = proto.WorkloadCall{TID: 7, NR: 4, Program: "ksys_write", Args: []uint64{1, 0x5000, 13, 0, 0, 0}}

// old_mmap's values are the struct's words; mmap2's offset is in pages.
func TestWorkloadDecodedForms(t *testing.T) {
	p := workloadPlan(t, "s390x", nil)
	packed := proto.WorkloadCall{TID: 3, NR: 90, Program: "aware_mmap", Args: []uint64{0x3ffe000, 0, 0, 0, 0, 0},
		Deref: []uint64{0, 0x40000, 3, 0x22, 0xffffffffffffffff, 0}}
	c := judge(p, rounds(p, with(packed, []uint64{0, 0x40000, 3, 0x22, 0xffffffffffffffff, 0})))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	// The naive old_mmap probe reads the pointer as argument 1: predicted.
	naive := packed
	naive.Program = "naive_old_mmap"
	c = judge(p, rounds(p, with(naive, []uint64{0x3ffe000, 0, 0, 0, 0, 0})))
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, "every call explained: "+c.Message)
	assert.Equal(t, 1, c.Workload.Summary.Explained)
	c = judge(p, rounds(p, with(naive, []uint64{0x3ffe008, 0, 0, 0, 0, 0})))
	assert.Equal(t, result.Fail, c.Verdict, "a pointer prediction is the call's pointer, not any value")

	p = workloadPlan(t, "arm", nil)
	pages := proto.WorkloadCall{TID: 3, NR: 192, Program: "aware_mmap", Args: []uint64{0, 0x1000, 3, 1, 3, 1}}
	c = judge(p, rounds(p, with(pages, []uint64{0, 0x1000, 3, 1, 3, 0x1000})))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	c = judge(p, rounds(p, with(pages, []uint64{0, 0x1000, 3, 1, 3, 1})))
	assert.Equal(t, result.Fail, c.Verdict, "the offset in bytes, not pages")
}

// snoopWorkload plans a workload of examples/snoop's tools on x86_64-6.12
// under cilium/ebpf.
func snoopWorkload(t *testing.T, name string) matrix.Planned {
	return snoopWorkloadOn(t, "x86_64-6.12", name)
}

// snoopWorkloadOn plans examples/snoop's workload case name on target,
// under cilium/ebpf.
func snoopWorkloadOn(t *testing.T, target, name string) matrix.Planned {
	t.Helper()
	m, err := matrix.Load("../../examples/snoop/ksystest.yaml", ksystest.Data)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	require.NoError(t, err)
	archName, _, _ := strings.Cut(target, "-")
	a, err := arch.Lookup(archName)
	require.NoError(t, err)
	planned, _ := cat.PlanTarget(target, a, sysparams.Kernel{})
	for _, p := range planned {
		if p.Name == name+"@cilium/ebpf" {
			require.NoError(t, p.WorkloadErr)
			return p
		}
	}
	t.Fatalf("no %s", name)
	return matrix.Planned{}
}

func u64(v uint64) *uint64 { return &v }

// openat(AT_FDCWD, path, O_RDWR|O_CREAT|O_TRUNC, 0600) as a C program
// passes it: int dfd in a register whose upper half is zero.
// The tracepoint copied the path (register 2) with its NUL.
func openatCall(tid uint32) proto.WorkloadCall {
	return proto.WorkloadCall{TID: tid, NR: 257, Program: "openat_entry", Args: []uint64{0xffffff9c, 0x4000, 0x242, 0x180, 0, 0},
		Contents: []proto.Content{{Arg: 1, Data: []byte("/tmp/x\x00")}}}
}

// opensnoop_perf's record: tid, dfd (int, widened with its sign), the
// path (content), flags, mode.
func openRecord(tid uint64, dfd, flags, mode uint64) proto.Record {
	return pathRecord(tid, dfd, flags, mode, "/tmp/x")
}

func pathRecord(tid uint64, dfd, flags, mode uint64, path string) proto.Record {
	field := make([]byte, 8)
	copy(field, path)
	return proto.Record{Size: 32, Thread: &tid, Values: []*uint64{u64(dfd), nil, u64(flags), u64(mode)}, Bytes: [][]byte{nil, field, nil, nil}}
}

// The tool's path field has room for 7 bytes and its NUL.
var openFields = []proto.Field{{Type: "int", Size: 4, Signed: true}, {Type: "char[8]", Offset: 24, Size: 8, Content: true}, {Type: "int", Size: 4, Signed: true}, {Type: "unsigned int", Size: 4}}

// A user's tool under a workload: each record is tied to its thread's
// call of the same rank, its fields compared with the tracepoint's
// values as the kernel's parameters hold them (int dfd: -100 either way);
// a record of a thread that made no such call, a call with no record, or
// a wrong field fails.
func TestWorkloadUserRecords(t *testing.T) {
	p := snoopWorkload(t, "opensnoop-perf-httpget")
	require.Len(t, p.Workload.Rounds, 1)
	run := func(calls []proto.WorkloadCall, recs ...proto.Record) result.Case {
		return judge(p, &proto.WorkloadResult{Rounds: []proto.WorkloadRound{{PID: 40, Calls: calls,
			Sets: []proto.WorkloadSet{{Program: "openat_entry", Fields: openFields, Records: recs}}}}})
	}
	dfd := uint64(0xffffffffffffff9c)
	calls := []proto.WorkloadCall{openatCall(41), openatCall(42), openatCall(41)}
	calls[2].Args[2] = 0 // O_RDONLY

	// Records of two threads, in another order than the calls.
	c := run(calls, openRecord(42, dfd, 0x242, 0x180), openRecord(41, dfd, 0x242, 0x180), openRecord(41, dfd, 0, 0x180))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	assert.Equal(t, result.WorkloadCounts{Made: 3, Captured: 3, Matching: 3}, c.Workload.Summary)

	// Thread 41's records swapped: its first call's flags are wrong.
	c = run(calls, openRecord(42, dfd, 0x242, 0x180), openRecord(41, dfd, 0, 0x180), openRecord(41, dfd, 0x242, 0x180))
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, 2, c.Workload.Summary.Wrong)
	require.NotEmpty(t, c.Workload.Calls)
	assert.Contains(t, c.Workload.Calls[0].Note, "arg 3 (flags): tracepoint 0x242, probe 0x0")
	assert.True(t, c.Workload.Calls[0].Args[1].OK, "the path is right")
	assert.Equal(t, `"/tmp/x"`, c.Workload.Calls[0].Args[1].PassedContent)
	assert.Equal(t, `"/tmp/x"`, c.Workload.Calls[0].Args[1].CapturedContent)

	// The path compared with the tracepoint's copy: another path is
	// wrong, a path the field cannot hold whole is truncated.
	other := openRecord(41, dfd, 0, 0x180)
	other.Bytes[1] = []byte("/tmp/y\x00\x00")
	c = run(calls, openRecord(41, dfd, 0x242, 0x180), openRecord(42, dfd, 0x242, 0x180), other)
	assert.Equal(t, result.Fail, c.Verdict)
	require.Len(t, c.Workload.Calls, 1)
	assert.Equal(t, `arg 2 (filename): the string differs: captured "/tmp/y", passed "/tmp/x"`, c.Workload.Calls[0].Note)
	long := calls[2]
	long.Contents = []proto.Content{{Arg: 1, Data: []byte("/tmp/xyzzy\x00")}}
	c = run([]proto.WorkloadCall{long}, pathRecord(41, dfd, 0, 0x180, "/tmp/xy"))
	assert.Equal(t, result.Fail, c.Verdict)
	require.Len(t, c.Workload.Calls, 1)
	assert.True(t, c.Workload.Calls[0].Args[1].Truncated)
	assert.Equal(t, "arg 2 (filename): truncated: the field (char[8]) holds the first 7 of the string's 10 bytes", c.Workload.Calls[0].Note)

	// The tracepoint could not read the path (a page not yet faulted in):
	// not compared.
	faulted := calls[2]
	faulted.Contents = []proto.Content{{Arg: 1, Err: -14}}
	c = run([]proto.WorkloadCall{faulted}, openRecord(41, dfd, 0, 0x180))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)

	// No copy of the tracepoint's (a call through memory): not compared.
	bare := calls[2]
	bare.Contents = nil
	c = run([]proto.WorkloadCall{bare}, openRecord(41, dfd, 0, 0x180))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)

	// A call with no record: not seen.
	c = run(calls, openRecord(42, dfd, 0x242, 0x180), openRecord(41, dfd, 0x242, 0x180))
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, 1, c.Workload.Summary.Wrong)
	assert.Equal(t, 2, c.Workload.Summary.Captured)

	// A record of a thread that made no watched call.
	c = run(calls, openRecord(42, dfd, 0x242, 0x180), openRecord(41, dfd, 0x242, 0x180), openRecord(41, dfd, 0, 0x180), openRecord(43, dfd, 0, 0))
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Message, "1 record(s) of openat_entry tied to no call the program made")

	// The collection did not load for the run; its records not read.
	c = judge(p, &proto.WorkloadResult{Rounds: []proto.WorkloadRound{{LoadError: "map events: EINVAL", Calls: calls}}})
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Message, "run 1: the collection did not load: map events: EINVAL")
}

// Where the collection's loader is declared to refuse it, the workload
// is that refusal; where it is not, a refusal fails.
func TestWorkloadUserRefusal(t *testing.T) {
	p := snoopWorkload(t, "opensnoop-client")
	got := proto.CaseResult{Name: p.Name, LoadError: "collection opensnoop@cilium/ebpf did not load: map events: EINVAL"}
	c := Compare(p, "x86_64", got)
	assert.Equal(t, result.Fail, c.Verdict)
	p.Pred = &matrix.Prediction{Refused: true, Why: "no ring buffers"}
	c = Compare(p, "x86_64", got)
	assert.Equal(t, result.QuirkConfirmed, c.Verdict)
	assert.Equal(t, "refused, as declared: collection opensnoop@cilium/ebpf did not load: map events: EINVAL", c.Message)
	require.Len(t, c.Workload.Probes, 1, "the report names the probes it would have checked")
	assert.Equal(t, "trace_openat", c.Workload.Probes[0].Program)
	c = Compare(p, "x86_64", proto.CaseResult{Name: p.Name, Workload: &proto.WorkloadResult{}})
	assert.Equal(t, result.Fail, c.Verdict, "declared refused, but it loaded")
	// Loaded, but its ksyscall/ program would not attach (libbpf on
	// ppc64le: __se_sys_openat, which a wrapper kernel lacks).
	c = Compare(p, "x86_64", proto.CaseResult{Name: p.Name, Workload: &proto.WorkloadResult{Rounds: []proto.WorkloadRound{
		{Errors: map[string]string{"trace_openat": "attach: no such file or directory"}}}}})
	assert.Equal(t, result.QuirkConfirmed, c.Verdict)
	assert.Equal(t, "refused, as declared: trace_openat: attach: no such file or directory", c.Message)
}

// A workload case's own quirks: on s390x netsnoop never sees a connect
// that went through socketcall (explained), but must see a direct one;
// on ppc64le every reading may be wrong (explained). A quirk no call
// shows fails: it no longer appears.
func TestWorkloadUserQuirks(t *testing.T) {
	p := snoopWorkloadOn(t, "s390x-6.12", "netsnoop-client")
	require.NotNil(t, p.Workload.Quirk)
	require.True(t, p.Workload.Quirk.Never)
	fields := []proto.Field{{Type: "int", Size: 4, Signed: true}, {Type: "sockaddr", Offset: 8, Size: 16, Content: true}, {Type: "int", Size: 4, Signed: true}}
	run := func(calls []proto.WorkloadCall, recs ...proto.Record) result.Case {
		return judge(p, &proto.WorkloadResult{Rounds: []proto.WorkloadRound{{PID: 40, Calls: calls,
			Sets: []proto.WorkloadSet{{Program: "trace_connect", Fields: fields, Records: recs}}}}})
	}
	viaSocketcall := proto.WorkloadCall{TID: 41, NR: 102, Program: "trace_connect", Args: []uint64{3, 0x3ff000, 0, 0, 0, 0},
		Deref: []uint64{4, 0x3ff100, 16}}
	c := run([]proto.WorkloadCall{viaSocketcall})
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, "every call explained: "+c.Message)
	assert.Equal(t, 1, c.Workload.Summary.Explained)
	require.Len(t, c.Workload.Calls, 1)
	assert.Contains(t, c.Workload.Calls[0].Note, "as case netsnoop-client predicts (never fires: glibc and Go call socketcall")

	direct := proto.WorkloadCall{TID: 41, NR: 362, Program: "trace_connect", Args: []uint64{4, 0x3ff100, 16, 0, 0, 0}}
	c = run([]proto.WorkloadCall{viaSocketcall, direct})
	assert.Equal(t, result.Fail, c.Verdict, "a direct connect must be seen")
	assert.Equal(t, 1, c.Workload.Summary.Wrong)

	// The workload's never speaks of calls that enter elsewhere: a probe
	// that did not attach misses the direct ones, and that is wrong.
	c = judge(p, &proto.WorkloadResult{Rounds: []proto.WorkloadRound{{PID: 40, Calls: []proto.WorkloadCall{viaSocketcall, direct},
		Errors: map[string]string{"trace_connect": "attach: no such function"},
		Sets:   []proto.WorkloadSet{{Program: "trace_connect", Fields: fields}}}}})
	assert.Equal(t, result.Fail, c.Verdict, "not attached is not the quirk")
	assert.Equal(t, 1, c.Workload.Summary.Wrong)

	tid := uint64(41)
	seen := proto.Record{Size: 32, Thread: &tid, Values: []*uint64{u64(4), nil, u64(16)}, Bytes: [][]byte{nil, nil, nil}}
	c = run([]proto.WorkloadCall{direct}, seen)
	assert.Equal(t, result.Fail, c.Verdict, "every call seen: the predicted quirk did not show")
	assert.Contains(t, c.Message, `predicted here: "never fires" (glibc and Go`)

	p = snoopWorkloadOn(t, "ppc64le-6.1", "opensnoop-perf-httpget")
	require.NotNil(t, p.Workload.Quirk)
	runOpen := func(calls []proto.WorkloadCall, recs ...proto.Record) result.Case {
		return judge(p, &proto.WorkloadResult{Rounds: []proto.WorkloadRound{{PID: 40, Calls: calls,
			Sets: []proto.WorkloadSet{{Program: "openat_entry", Fields: openFields, Records: recs}}}}})
	}
	call := openatCall(41)
	call.NR = 286 // ppc64le's openat
	call.Args[3] = 0
	// The wrapper's registers: a pointer for dfd, a mode that is 0 as
	// the call's is.
	c = runOpen([]proto.WorkloadCall{call}, pathRecord(41, 0x1fe7d960, 0, 0, ""))
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, "every call explained: "+c.Message)
	assert.Equal(t, 1, c.Workload.Summary.Explained)
	// Every number right, the path not: read wrong too.
	c = runOpen([]proto.WorkloadCall{call}, pathRecord(41, 0xffffffffffffff9c, 0x242, 0, "/tmp/y"))
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, c.Message)
	c = runOpen([]proto.WorkloadCall{call}, openRecord(41, 0xffffffffffffff9c, 0x242, 0))
	assert.Equal(t, result.Fail, c.Verdict, "read right where the case predicts wrong registers")
	assert.Contains(t, c.Message, "no longer appears")
}

// Where the tracepoint copies no strings (mips64el), a path field is not
// compared, and the call says why; its numbers still are.
func TestWorkloadNoStringsAtEntry(t *testing.T) {
	p := snoopWorkloadOn(t, "mips64el-6.1", "opensnoop-perf-httpget")
	run := func(calls []proto.WorkloadCall, recs ...proto.Record) result.Case {
		return judge(p, &proto.WorkloadResult{Rounds: []proto.WorkloadRound{{PID: 40, Calls: calls,
			Sets: []proto.WorkloadSet{{Program: "openat_entry", Fields: openFields, Records: recs}}}}})
	}
	call := openatCall(41)
	call.NR = 5247 // mips64el n64's openat
	call.Contents = nil
	c := run([]proto.WorkloadCall{call}, openRecord(41, 0xffffffffffffff9c, 0x242, 0x180))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	c = run([]proto.WorkloadCall{call}, openRecord(41, 0xffffffffffffff9c, 0x242, 0x181))
	assert.Equal(t, result.Fail, c.Verdict, "a wrong mode is still wrong")
	require.NotEmpty(t, c.Workload.Calls)
	assert.Contains(t, c.Workload.Calls[0].Args[1].Note, "the tracepoint copies no strings at a call's entry on this arch")
}
