package expect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
)

var splice = matrix.CaseDef{Name: "splice", Probe: "ksys_splice", Syscall: "splice", Args: []matrix.ArgDef{
	{Name: "fd_in", Expect: matrix.Expect{Default: "match"}}, {Name: "off_in", Expect: matrix.Expect{Default: "match"}}, {Name: "fd_out", Expect: matrix.Expect{Default: "match"}},
	{Name: "off_out", Expect: matrix.Expect{Default: "match"}}, {Name: "len", Expect: matrix.Expect{Default: "match"}}, {Name: "flags", Expect: matrix.Expect{Default: "ignore"}},
}}

var passed = []uint64{0x7ffff001, 0x2222000000002202, 0x7ffff003, 0x4444000000004404, 0x5555000000005505, 0x66000006}

func TestCompare(t *testing.T) {
	for name, tc := range map[string]struct {
		got     proto.CaseResult
		verdict result.Verdict
		msg     string
		notes   []string
	}{
		"exact": {
			got:     proto.CaseResult{Passed: passed, Captures: [][]uint64{passed}},
			verdict: result.Pass,
			notes:   []string{"", "", "", "", "", ""},
		},
		"arg4 read from rcx": {
			got: proto.CaseResult{Passed: passed, Captures: [][]uint64{
				{0x7ffff001, 0x2222000000002202, 0x7ffff003, 0xdeadbeef, 0x5555000000005505, 0},
			}},
			verdict: result.Fail,
			msg:     "arg 4 (off_out) expected 0x4444000000004404, captured 0xdeadbeef",
			notes:   []string{"", "", "", "unrelated value", "", ""},
		},
		"shifted by one": {
			got: proto.CaseResult{Passed: passed, Captures: [][]uint64{
				{0, 0x7ffff001, 0x2222000000002202, 0x7ffff003, 0x4444000000004404, 0x5555000000005505},
			}},
			verdict: result.Fail,
			notes:   []string{"zero", "equals passed arg 1 (fd_in)", "equals passed arg 2 (off_in)", "equals passed arg 3 (fd_out)", "equals passed arg 4 (off_out)", ""},
		},
		"truncated": {
			got: proto.CaseResult{Passed: passed, Captures: [][]uint64{
				{0x7ffff001, 0x2202, 0x7ffff003, 0x4444000000004404, 0x5555000000005505, 0},
			}},
			verdict: result.Fail,
			notes:   []string{"", "low 32 bits match, high bits differ", "", "", "", ""},
		},
		"s390x gprs[2]": {
			got: proto.CaseResult{Passed: passed, Captures: [][]uint64{
				{0xffffffffffffffda, 0x2222000000002202, 0x7ffff003, 0x4444000000004404, 0x5555000000005505, 0},
			}},
			verdict: result.Fail,
			msg:     "arg 1 (fd_in) expected 0x7ffff001, captured 0xffffffffffffffda",
			notes:   []string{"-ENOSYS (the kernel's placeholder return value, not an argument)", "", "", "", "", ""},
		},
		"never fired": {
			got:     proto.CaseResult{Passed: passed},
			verdict: result.Fail,
			msg:     "probe did not fire for the call (the kernel keeps no run counts to say whether it ran)",
			notes:   []string{"not captured", "not captured", "not captured", "not captured", "not captured", ""},
		},
		"agent error": {
			got:     proto.CaseResult{Error: "attach ksys_splice to sys_splice: no such symbol"},
			verdict: result.Fail,
			msg:     "attach ksys_splice to sys_splice: no such symbol",
			notes:   []string{"not run", "not run", "not run", "not run", "not run", ""},
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := Compare(planned(splice, "x86_64"), "x86_64", tc.got)
			assert.Equal(t, tc.verdict, c.Verdict)
			if tc.msg != "" {
				assert.Equal(t, tc.msg, c.Message)
			}
			var notes []string
			for _, a := range c.Args {
				notes = append(notes, a.Note)
			}
			assert.Equal(t, tc.notes, notes)
		})
	}
}

// The Go runtime may make calls of its own on the trigger thread: the
// best-matching capture counts, and the count is reported.
func TestCompareExtraCaptures(t *testing.T) {
	other := []uint64{9, 9, 9, 9, 9, 9}
	c := Compare(planned(splice, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Captures: [][]uint64{other, passed}})
	assert.Equal(t, result.Pass, c.Verdict)
	assert.Contains(t, c.Message, "fired 2 times")
}

var clone = matrix.CaseDef{Name: "clone-naive", Probe: "naive_clone", Syscall: "clone", Quirk: "clone", Role: matrix.RoleNaive,
	Args: []matrix.ArgDef{{Name: "flags", Expect: matrix.Expect{Default: "match"}}, {Name: "newsp", Expect: matrix.Expect{Default: "match"}}, {Name: "parent_tid", Expect: matrix.Expect{Default: "match"}},
		{Name: "child_tid", Expect: matrix.Expect{Default: "match"}}, {Name: "tls", Expect: matrix.Expect{Default: "match"}}},
	Quirks: map[string]matrix.Prediction{
		"s390x":  {Swap: []int{1, 2}, Why: "CONFIG_CLONE_BACKWARDS2"},
		"x86_64": {Never: true},
		"arm64":  {Pointer: true},
	}}

var cloneArgs = []uint64{0x811, 0x2202, 0x3303, 0x4404, 0x5505}

func TestPredictions(t *testing.T) {
	swapped := []uint64{0x2202, 0x811, 0x3303, 0x4404, 0x5505}
	for name, tc := range map[string]struct {
		arch    string
		got     proto.CaseResult
		verdict result.Verdict
		msg     string
	}{
		"swap confirmed": {
			arch: "s390x", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{swapped}},
			verdict: result.QuirkConfirmed, msg: "args 1 (flags) and 2 (newsp) arrive swapped, as predicted",
		},
		"swap gone": {
			arch: "s390x", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{cloneArgs}},
			verdict: result.Fail, msg: "predicted args 1 and 2 swapped, but the probe captured every argument: the quirk no longer appears",
		},
		"swap plus another error": {
			arch: "s390x", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{{0x2202, 0x811, 0x3303, 0, 0x5505}}},
			verdict: result.Fail, msg: "predicted args 1 and 2 swapped, but: args 1 (flags) and 2 (newsp) are swapped; arg 4 (child_tid) expected 0x4404, captured 0x0",
		},
		"never: attach failed": {
			arch: "x86_64", got: proto.CaseResult{Passed: cloneArgs, AttachError: "attach naive_clone to sys_clone: no such symbol"},
			verdict: result.QuirkConfirmed, msg: "never fires: attach naive_clone to sys_clone: no such symbol",
		},
		"never: no event": {
			arch: "x86_64", got: proto.CaseResult{Passed: cloneArgs},
			verdict: result.QuirkConfirmed, msg: "never fires: attached, but no event for the call",
		},
		"never, but fired correctly": {
			arch: "x86_64", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{cloneArgs}},
			verdict: result.Fail, msg: "the quirk no longer appears",
		},
		"pointer confirmed": {
			arch: "arm64", got: proto.CaseResult{Passed: cloneArgs, Regs: []uint64{0xc000123000}, Captures: [][]uint64{{0xc000123000, 1, 2, 3, 4}}},
			verdict: result.QuirkConfirmed, msg: "arg 1 is 0xc000123000, the address of the struct holding the arguments, as predicted",
		},
		"swap, but no fire": {
			arch: "s390x", got: proto.CaseResult{Passed: cloneArgs},
			verdict: result.Fail, msg: "predicted args 1 and 2 swapped, but the probe did not fire",
		},
		"swap one way only": {
			arch: "s390x", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{{0x2202, 0x999, 0x3303, 0x4404, 0x5505}}},
			verdict: result.Fail, msg: "predicted args 1 and 2 swapped, but: arg 1 (flags) expected 0x811, captured 0x2202; arg 2 (newsp) expected 0x2202, captured 0x999",
		},
		"swap the other way only": {
			arch: "s390x", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{{0x999, 0x811, 0x3303, 0x4404, 0x5505}}},
			verdict: result.Fail, msg: "predicted args 1 and 2 swapped, but: ",
		},
		"never, but fired with wrong values": {
			arch: "x86_64", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{{1, 2, 3, 4, 5}}},
			verdict: result.Fail, msg: "predicted never fires, but it fired: arg 1 (flags) expected 0x811, captured 0x1",
		},
		"pointer, but not to the struct": {
			arch: "arm64", got: proto.CaseResult{Passed: cloneArgs, Regs: []uint64{0xc000123000}, Captures: [][]uint64{{0xdead, 1, 2, 3, 4}}},
			verdict: result.Fail, msg: "predicted arg 1 is a pointer to a struct of the arguments, but arg 1 is 0xdead, not the struct at 0xc000123000",
		},
		"no prediction on this arch: a swap fails, named as a swap": {
			arch: "arm", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{swapped}},
			verdict: result.Fail, msg: "args 1 (flags) and 2 (newsp) are swapped",
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := Compare(planned(clone, tc.arch), tc.arch, tc.got)
			assert.Equal(t, tc.verdict, c.Verdict)
			assert.Contains(t, c.Message, tc.msg)
		})
	}
}

func TestAwareIsHandled(t *testing.T) {
	aware := clone
	aware.Role, aware.Quirks = matrix.RoleAware, nil
	c := Compare(planned(aware, "s390x"), "s390x", proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{cloneArgs}})
	assert.Equal(t, result.Handled, c.Verdict)
	c = Compare(planned(aware, "s390x"), "s390x", proto.CaseResult{Passed: cloneArgs, AttachError: "no such symbol"})
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Message, "probe did not attach")
}

func TestOracle(t *testing.T) {
	def := clone
	def.Order = map[string][]int{"s390x": {2, 1, 3, 4, 5}}
	regs := []uint64{0x2202, 0x811, 0x3303, 0x4404, 0x5505} // s390x register order
	swapped := []uint64{0x2202, 0x811, 0x3303, 0x4404, 0x5505}
	got := proto.CaseResult{Passed: cloneArgs, Regs: regs, NR: 120, Captures: [][]uint64{swapped},
		Oracle: []proto.OracleCall{{NR: 39, Args: []uint64{1}}, {NR: 120, Args: append(regs, 0)}}}
	c := Compare(planned(def, "s390x"), "s390x", got)
	assert.Equal(t, result.QuirkConfirmed, c.Verdict)
	assert.Equal(t, result.OracleAgrees, c.Oracle.Status)
	for i, a := range c.Args {
		assert.Equal(t, cloneArgs[i], *a.Tracepoint, "the tracepoint maps registers back to arguments")
	}

	got.Oracle[1].Args[3] = 0xbad
	c = Compare(planned(def, "s390x"), "s390x", got)
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, result.OracleDisagrees, c.Oracle.Status)
	assert.Contains(t, c.Message, "syscall tracepoint disagrees: register 4 is 0xbad there, the agent passed 0x4404")

	got.Oracle = got.Oracle[:1]
	c = Compare(planned(def, "s390x"), "s390x", got)
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, result.OracleNotSeen, c.Oracle.Status)

	got.NR, got.Oracle = -1, []proto.OracleCall{{NR: 41}, {NR: 42}}
	c = Compare(planned(def, "s390x"), "s390x", got)
	assert.Equal(t, result.OracleNA, c.Oracle.Status)
	assert.Equal(t, "a library path: syscalls 41, 42", c.Oracle.Note)

	got.OracleError = "raw_syscalls/sys_enter unavailable: ENOENT"
	c = Compare(planned(def, "s390x"), "s390x", got)
	assert.Equal(t, result.OracleUnavailable, c.Oracle.Status)
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, "an absent oracle is said, not a failure")
}

// planned plans cd for an arch as a run would, with a kernel that says
// nothing, so the catalogue's own order and predictions apply.
func planned(cd matrix.CaseDef, archName string) matrix.Planned {
	a, err := arch.Lookup(archName)
	if err != nil {
		panic(err)
	}
	cat := &matrix.Catalogue{Cases: []matrix.CaseDef{cd}}
	return cat.Plan(a, sysparams.Kernel{})[0]
}

// plannedWithoutSource plans a case on a kernel that says nothing of
// its parameters, not even through the source of ksystest's tables: for
// cases that pass fewer arguments than the syscall takes, which the
// names check would call a catalogue error.
func plannedWithoutSource(cd matrix.CaseDef, archName string) matrix.Planned {
	a, err := arch.Lookup(archName)
	if err != nil {
		panic(err)
	}
	none := func(string) (sysparams.Params, bool, string) { return sysparams.Params{}, false, "no source" }
	cat := &matrix.Catalogue{Cases: []matrix.CaseDef{cd}}
	return cat.Plan(a, sysparams.Kernel{Source: none})[0]
}

var cloneEffects = matrix.CaseDef{Name: "clone-effects", Probe: "aware_clone", Syscall: "clone", Via: proto.ViaEffects,
	Args: []matrix.ArgDef{{Name: "flags", Value: "0x1180011", Expect: matrix.Expect{Default: "match"}}, {Name: "newsp", Value: "0", Expect: matrix.Expect{Default: "match"}},
		{Name: "parent_tid", Value: "buf:8", Expect: matrix.Expect{Default: "match"}}, {Name: "child_tid", Value: "buf:8", Expect: matrix.Expect{Default: "match"}},
		{Name: "tls", Value: "tls", Expect: matrix.Expect{Default: "match"}}}}

// A real clone proves which register is which by what the kernel did:
// the child's TID through parent_tid and child_tid, its TLS from tls.
func TestEffects(t *testing.T) {
	passed := []uint64{0x1180011, 0, 0x7000, 0x8000, 0x55c15000}
	good := &proto.Effects{ChildTID: 42, Parent: []uint32{0, 0, 42, 0x7473796b, 0}, Child: []uint32{0, 0, 0x7473796b, 42, 0},
		Buffer: []bool{false, false, true, true, false}, TLS: 0x55c15000, TLSWant: 0x55c15000}
	c := Compare(planned(cloneEffects, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Captures: [][]uint64{passed}, Effects: good})
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	assert.Equal(t, "the kernel wrote the child's TID (42) here in the parent", c.Args[2].Effect)
	assert.Equal(t, "the kernel wrote the child's TID (42) here in the child", c.Args[3].Effect)
	assert.Contains(t, c.Args[4].Effect, "thread pointer is 0x55c15000")

	// The kernel read the register the catalogue calls child_tid as tls,
	// and the other way round (arm64 given the x86_64 order).
	swapped := &proto.Effects{ChildTID: 42, Parent: []uint32{0, 0, 42, 0x7473796b, 0}, Child: []uint32{0, 0, 0x7473796b, 0x7473796b, 0},
		Buffer: []bool{false, false, true, true, false}, TLS: 0x8000, TLSWant: 0x55c15000}
	c = Compare(planned(cloneEffects, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Captures: [][]uint64{passed}, Effects: swapped})
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Message, "the kernel wrote the child's TID in the child nowhere the agent looked, not through child_tid")
	assert.Contains(t, c.Message, "the child's thread pointer is 0x8000, argument 4 (child_tid), not 0x55c15000 from tls")

	c = Compare(planned(cloneEffects, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Captures: [][]uint64{passed}})
	assert.Equal(t, result.Fail, c.Verdict, "a real call that reports no effects proves nothing")
}

// A probe that ran but reported nothing is told from one that never ran.
func TestCompareFiredOrNot(t *testing.T) {
	c := Compare(planned(splice, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Runs: map[string]uint64{"ksys_splice": 0}})
	assert.Equal(t, "probe did not fire for the call: ksys_splice never ran", c.Message)
	c = Compare(planned(splice, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Runs: map[string]uint64{"ksys_splice": 2}})
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Message, "ksys_splice ran 2 time(s) during the call but reported nothing for it")
	require.NotNil(t, c.Runs)
	assert.Equal(t, uint64(2), *c.Runs)
}

func u64p(v uint64) *uint64 { return &v }

// A user's program records each reading in globals, two sets per call:
// each set is judged on its own, differ included, and one wrong set
// fails the case whatever the other says.
func TestCaptureSets(t *testing.T) {
	prctl := matrix.CaseDef{Name: "prctl", Collection: "macro", Syscall: "prctl",
		Args: []matrix.ArgDef{{Name: "option"}, {Name: "arg2"}},
		Captures: []matrix.CaptureDef{
			{Name: "syscall", Program: "handle", Args: []matrix.CaptureArg{
				{Global: "arg1", Expect: matrix.Expect{Default: "match", Arches: map[string]string{"arm64": "differ"}}},
				{Global: "arg2"}}},
			{Name: "core", Program: "handle", Args: []matrix.CaptureArg{{Global: "arg1_core"}, {Global: "arg2_core"}}},
		}}
	passed := []uint64{1001, 12}
	got := proto.CaseResult{Passed: passed, Runs: map[string]uint64{"handle": 1}, Sets: []proto.SetResult{
		{Values: []*uint64{u64p(0), u64p(12)}},
		{Values: []*uint64{u64p(1001), u64p(12)}},
	}}
	planned := plannedWithoutSource
	c := Compare(planned(prctl, "arm64"), "arm64", got)
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	require.Len(t, c.Sets, 2)
	assert.True(t, c.Sets[0].OK)
	assert.Equal(t, "differs from the value passed, as expected", c.Sets[0].Args[0].Note)
	assert.Equal(t, "differ", c.Sets[0].Args[0].Expect)
	assert.Equal(t, uint64(1), *c.Sets[0].Runs)

	// On x86_64 the first set must match: the zero is wrong.
	c = Compare(planned(prctl, "x86_64"), "x86_64", got)
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, "capture set syscall: arg 1 (option) expected 0x3e9, captured 0x0 from global arg1", c.Message)
	assert.True(t, c.Sets[1].OK, "the other set is still judged and shown")

	// A program that never ran is named.
	got.Runs["handle"] = 0
	got.Sets[1].Values[0] = u64p(0)
	c = Compare(planned(prctl, "x86_64"), "x86_64", got)
	assert.Contains(t, c.Sets[1].Message, "handle never ran during the call")

	// A value that could not be read says why, and fails.
	got.Sets[1].Errors = []string{"no global arg1_core in the collection"}
	c = Compare(planned(prctl, "x86_64"), "x86_64", got)
	assert.Equal(t, "no global arg1_core in the collection", c.Sets[1].Args[0].Note)
	assert.Nil(t, c.Sets[1].Args[0].Captured)
}

// What the guest sends is untrusted: a record shorter than what it
// stands for is a failure that shows the record, never a panic.
func TestMalformedRecordsFail(t *testing.T) {
	regs := []uint64{0x811, 0x2202, 0x3303, 0x4404, 0x5505, 0}
	for name, tc := range map[string]struct {
		arch string
		got  proto.CaseResult
		msg  string
	}{
		"oracle record shorter than the registers": {
			arch: "x86_64",
			got: proto.CaseResult{Passed: cloneArgs, Regs: regs, NR: 56, Captures: [][]uint64{cloneArgs},
				Oracle: []proto.OracleCall{{NR: 56, Args: []uint64{0x811, 0x2202}}}},
			msg: "syscall tracepoint disagrees: malformed record: 2 values [0x811 0x2202] for the 6 registers the agent passed",
		},
		"capture row too short for the predicted swap": {
			arch: "s390x", got: proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{{0x2202}}},
			msg: "predicted args 1 and 2 swapped, but the agent's record is malformed: captured [0x2202], passed [0x811 0x2202 0x3303 0x4404 0x5505]",
		},
		"passed values too short for the predicted swap": {
			arch: "s390x", got: proto.CaseResult{Passed: cloneArgs[:1], Captures: [][]uint64{{0x2202, 0x811}}},
			msg: "the agent's record is malformed: captured [0x2202 0x811], passed [0x811]",
		},
		"negative argument count": {
			arch: "arm", got: proto.CaseResult{Passed: cloneArgs, NArgs: -3, Regs: regs, Captures: [][]uint64{{1, 2, 3, 4, 5}}},
			msg: "arg 1 (flags) expected 0x811, captured 0x1",
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := Compare(planned(clone, tc.arch), tc.arch, tc.got)
			assert.Equal(t, result.Fail, c.Verdict)
			assert.Contains(t, c.Message, tc.msg)
		})
	}
}

// A case the agent never reported fails, marked not run.
func TestMissing(t *testing.T) {
	c := Missing(planned(splice, "x86_64"), "x86_64", "not run: infra-error")
	assert.Equal(t, result.Fail, c.Verdict)
	assert.True(t, c.NotRun)
	assert.Equal(t, "not run: infra-error", c.Message)
	c = Compare(planned(splice, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Captures: [][]uint64{passed}})
	assert.False(t, c.NotRun)
}

// Every argument is compared, the sixth too, and so is every register the
// tracepoint saw.
func TestSixthArgumentAndRegister(t *testing.T) {
	six := splice
	six.Args = append([]matrix.ArgDef(nil), splice.Args...)
	six.Args[5].Expect = matrix.Expect{Default: "match"}
	wrong := append([]uint64(nil), passed...)
	wrong[5] = 0x77
	c := Compare(planned(six, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Captures: [][]uint64{wrong}})
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, "arg 6 (flags) expected 0x66000006, captured 0x77", c.Message)

	record := append([]uint64(nil), passed...)
	record[5] = 0x77
	c = Compare(planned(six, "x86_64"), "x86_64", proto.CaseResult{Passed: passed, Captures: [][]uint64{passed}, Regs: passed, NArgs: 6, NR: 275,
		Oracle: []proto.OracleCall{{NR: 275, Args: record}}})
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, result.OracleDisagrees, c.Oracle.Status)
	assert.Equal(t, "register 6 is 0x77 there, the agent passed 0x66000006", c.Oracle.Note)
}

// A collection its loader refuses fails its cases with the loader's
// error, unless the config declares that refusal: then it is confirmed,
// and a collection that loads after all fails.
func TestLoaderRefusal(t *testing.T) {
	prctl := matrix.CaseDef{Name: "prctl@cilium/ebpf", Collection: "macro", Syscall: "prctl",
		Args:     []matrix.ArgDef{{Name: "option"}},
		Captures: []matrix.CaptureDef{{Name: "syscall", Program: "handle", Args: []matrix.CaptureArg{{Global: "arg1"}}}}}
	planned := plannedWithoutSource
	refused := proto.CaseResult{Passed: []uint64{1001},
		LoadError: "collection macro@cilium/ebpf did not load: cilium/ebpf v0.22.0 refuses it: unable to derive a value for LINUX_HAS_SYSCALL_WRAPPER"}
	c := Compare(planned(prctl, "arm"), "arm", refused)
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Message, "probe did not load: collection macro@cilium/ebpf did not load: cilium/ebpf v0.22.0 refuses it")
	assert.Empty(t, c.Sets, "nothing was attached: no set to judge")

	p := planned(prctl, "arm")
	p.Pred = &matrix.Prediction{Refused: true, Why: "cilium/ebpf refuses it on arm-6.12: why"}
	c = Compare(p, "arm", refused)
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, c.Message)
	assert.Contains(t, c.Message, "refused, as declared: collection macro@cilium/ebpf did not load")

	// A loader that loads the collection but cannot attach its programs
	// (libbpf on ppc64le: no __se_sys_*) refuses it too.
	attach := proto.CaseResult{Passed: []uint64{1001}, Runs: map[string]uint64{"handle": 0},
		AttachError: "attach handle to ksyscall/prctl: failed to create kprobe '__se_sys_prctl+0x0' perf event: No such file or directory"}
	c = Compare(p, "arm", attach)
	assert.Equal(t, result.QuirkConfirmed, c.Verdict, c.Message)
	assert.Contains(t, c.Message, "refused, as declared: attach handle")
	assert.Empty(t, c.Sets, "a refused collection's sets are not judged")

	loaded := proto.CaseResult{Passed: []uint64{1001}, Runs: map[string]uint64{"handle": 1},
		Sets: []proto.SetResult{{Values: []*uint64{u64p(1001)}}}}
	c = Compare(p, "arm", loaded)
	assert.Equal(t, result.Fail, c.Verdict, "declared to be refused, but it loaded")
}

// A label the kernel does not use is noticed, not failed: every value is
// still checked (issue 19: sendto's buf is the kernel's buff on mips64el).
func TestLabelNotice(t *testing.T) {
	match := matrix.Expect{Default: "match"}
	sendto := matrix.CaseDef{Name: "sniff-sendto", Probe: "sendto", Syscall: "sendto", Via: proto.ViaRaw, Args: []matrix.ArgDef{
		{Name: "fd", Expect: match}, {Name: "buf", Expect: match}, {Name: "len", Expect: match},
		{Name: "flags", Expect: match}, {Name: "addr", Expect: match}, {Name: "addr_len", Expect: match}}}
	six := []uint64{3, 0x7fff0000, 13, 0x40, 0x7fff1000, 16}
	p := planned(sendto, "mips64el")
	c := Compare(p, "mips64el", proto.CaseResult{Passed: six, Captures: [][]uint64{six}})
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	require.NotNil(t, c.Kernel)
	assert.True(t, c.Kernel.Agree)
	assert.Equal(t, []string{"fd", "buff", "len", "flags", "addr", "addr_len"}, c.Kernel.Names)
	assert.Contains(t, c.Kernel.Note, `notice: label "buf" (argument 2) names no parameter of the kernel's`)

	wrong := []uint64{3, 0x7fff0000, 14, 0x40, 0x7fff1000, 16}
	c = Compare(p, "mips64el", proto.CaseResult{Passed: six, Captures: [][]uint64{wrong}})
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, "arg 3 (len) expected 0xd, captured 0xe", c.Message)
}
