package expect

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the hand-made seeds in testdata/fuzz")

// fuzzDef is a planned case and the arch it is judged for.
type fuzzDef struct {
	def  matrix.Planned
	arch string
}

// fuzzDefs are the cases FuzzCompare judges guest reports against: the
// hand-made ones of this file first (the seeds name them by index), one
// per kind of prediction, then ksystest's own catalogue on every arch.
func fuzzDefs(t testing.TB) []fuzzDef {
	defs := []fuzzDef{
		{planned(splice, "x86_64"), "x86_64"},
		{planned(clone, "s390x"), "s390x"},   // swap
		{planned(clone, "x86_64"), "x86_64"}, // never
		{planned(clone, "arm64"), "arm64"},   // pointer
		{planned(cloneEffects, "x86_64"), "x86_64"},
		{planned(captureCase, "arm64"), "arm64"},
	}
	for _, p := range []matrix.Prediction{{Regs: []int{6, 5, 4, 3, 2}}, {NoLoad: true}, {WrongRegs: true}, {LoaderWrapper: true}} {
		d := planned(clone, "arm")
		d.Pred = &p
		defs = append(defs, fuzzDef{d, "arm"})
	}
	defs = append(defs, fuzzDef{plannedWithoutSource(openat, "s390x"), "s390x"}) // a program's own records
	cat, err := matrix.LoadCatalogue("../../bpf/cases.yaml")
	require.NoError(t, err)
	for _, a := range arch.All() {
		for _, d := range cat.Plan(a, sysparams.Kernel{}) {
			defs = append(defs, fuzzDef{d, a.Name})
		}
	}
	return defs
}

// captureCase reads its arguments from a user's globals and ring buffer.
var captureCase = matrix.CaseDef{Name: "prctl", Collection: "macro", Syscall: "prctl",
	Args: []matrix.ArgDef{{Name: "option"}, {Name: "arg2"}},
	Captures: []matrix.CaptureDef{
		{Name: "syscall", Program: "handle", Args: []matrix.CaptureArg{
			{Global: "arg1", Expect: matrix.Expect{Default: "match", Arches: map[string]string{"arm64": "differ"}}}, {Global: "arg2"}}},
		{Name: "ring", Program: "handle", Emit: new(int), Args: []matrix.CaptureArg{{}, {}}},
	}}

// FuzzCompare: whatever the guest reports for a case (a CaseResult as
// its JSON crosses the console), judging it never panics, always gives
// one of the verdicts with a reason when it fails, and passes a plain
// probe only when every argument was captured as expected.
func FuzzCompare(f *testing.F) {
	defs := fuzzDefs(f)
	verdicts := []result.Verdict{result.Pass, result.QuirkConfirmed, result.Handled, result.Fail}
	f.Fuzz(func(t *testing.T, which uint16, report []byte) {
		var got proto.CaseResult
		if json.Unmarshal(report, &got) != nil {
			return
		}
		d := defs[int(which)%len(defs)]
		c := Compare(d.def, d.arch, got)
		require.Contains(t, verdicts, c.Verdict)
		require.Len(t, c.Args, len(d.def.Args))
		if got.Error == "" {
			require.Len(t, c.Sets, len(d.def.Captures), "every capture set judged")
		}
		if c.Verdict == result.Fail {
			require.NotEmpty(t, c.Message, "a failure says why")
		}
		if got.Error != "" {
			require.Equal(t, result.Fail, c.Verdict, "a case that did not run fails")
		}
		if c.Oracle != nil && (c.Oracle.Status == result.OracleDisagrees || c.Oracle.Status == result.OracleNotSeen) {
			require.Equal(t, result.Fail, c.Verdict, "the tracepoint contradicts the call")
		}
		if (c.Verdict == result.Pass || c.Verdict == result.Handled) && d.def.Probe != "" {
			require.NotEmpty(t, got.Captures, "passed without a capture")
			for _, a := range c.Args {
				require.True(t, a.OK, "passed with argument %s wrong", a.Name)
			}
		}
		for _, s := range c.Sets {
			if c.Verdict.OK() {
				require.True(t, s.OK, "passed with capture set %s wrong", s.Name)
			}
		}
	})
}

// fuzzSeeds are FuzzCompare's hand-made seeds: (index into fuzzDefs, the
// guest's report) by name, committed under testdata/fuzz/FuzzCompare.
func fuzzSeeds() map[string]struct {
	which  uint16
	report proto.CaseResult
} {
	swapped := []uint64{0x2202, 0x811, 0x3303, 0x4404, 0x5505}
	regs := []uint64{0x811, 0x2202, 0x3303, 0x4404, 0x5505, 0}
	seeds := map[string]struct {
		which  uint16
		report proto.CaseResult
	}{
		"splice-exact":       {0, proto.CaseResult{Passed: passed, Captures: [][]uint64{passed}, Regs: passed, NArgs: 6, NR: 275, Oracle: []proto.OracleCall{{NR: 275, Args: passed}}}},
		"splice-short-row":   {0, proto.CaseResult{Passed: passed, Captures: [][]uint64{passed[:2]}}},
		"oracle-short":       {0, proto.CaseResult{Passed: passed, Captures: [][]uint64{passed}, Regs: passed, NR: 275, Oracle: []proto.OracleCall{{NR: 275, Args: passed[:1]}}}},
		"swap-confirmed":     {1, proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{swapped}, Regs: regs, NArgs: 5}},
		"swap-short-row":     {1, proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{{0x2202}}}},
		"swap-short-passed":  {1, proto.CaseResult{Passed: cloneArgs[:1], Captures: [][]uint64{swapped}}},
		"never-no-event":     {2, proto.CaseResult{Passed: cloneArgs}},
		"pointer":            {3, proto.CaseResult{Passed: cloneArgs, Regs: []uint64{0xc000123000}, Captures: [][]uint64{{0xc000123000, 1, 2, 3, 4}}}},
		"effects":            {4, proto.CaseResult{Passed: cloneArgs, Captures: [][]uint64{cloneArgs}, Effects: &proto.Effects{ChildTID: 42, Parent: []uint32{0, 0, 42}, Child: []uint32{0}, Buffer: []bool{true}}}},
		"capture-sets":       {5, proto.CaseResult{Passed: []uint64{1001, 12}, Runs: map[string]uint64{"handle": 1}, Sets: []proto.SetResult{{Values: []*uint64{u64p(0), u64p(12)}, Errors: []string{"", "x"}}, {Rows: [][]uint64{{1001}}}}}},
		"regs":               {6, proto.CaseResult{Passed: cloneArgs, Regs: regs[:3], NArgs: -1, Captures: [][]uint64{{0, 0x5505, 0x4404}}}},
		"agent-error":        {7, proto.CaseResult{Error: "probe did not load", LoadError: "verifier says no"}},
		"negative-nargs":     {8, proto.CaseResult{Passed: cloneArgs, NArgs: -7, Regs: regs, Captures: [][]uint64{{9, 9, 9, 9, 9}}}},
		"library-path":       {9, proto.CaseResult{Passed: cloneArgs, NR: -1, Oracle: []proto.OracleCall{{NR: 1}, {NR: 2, Args: nil}}}},
		"builtin-first-case": {11, proto.CaseResult{Passed: []uint64{1, 2, 3}, Captures: [][]uint64{{1, 2, 3}, {}}}},
		"records": {10, proto.CaseResult{Passed: []uint64{0xffffffffffffff9c, 0x7000, 0xa0000, 0x1a0}, PID: 40, TID: 42,
			Contents: [][]byte{nil, []byte("/etc/hostname")}, Sets: []proto.SetResult{{Fields: openatFields[:3],
				Records: []proto.Record{openatRecord(40, "/etc/host", 0xa0000, 0x1a0), {Size: 1, Thread: u64p(40), Values: []*uint64{nil}}}}}}},
	}
	return seeds
}

// TestFuzzSeeds keeps the committed seeds what fuzzSeeds says, read back
// (a field CaseResult gains does not make them stale); run it with
// -update-seeds to write them.
func TestFuzzSeeds(t *testing.T) {
	defs := fuzzDefs(t)
	seeds := fuzzSeeds()
	for name, s := range seeds {
		require.Less(t, int(s.which), len(defs))
		report, err := json.Marshal(s.report)
		require.NoError(t, err)
		path := filepath.Join("testdata", "fuzz", "FuzzCompare", "seed-"+name)
		if *updateSeeds {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\nuint16(%d)\n[]byte(%q)\n", s.which, report), 0o644))
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err, "run with -update-seeds to write")
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		require.Len(t, lines, 3, path)
		var which uint16
		_, err = fmt.Sscanf(lines[1], "uint16(%d)", &which)
		require.NoError(t, err, path)
		quoted, ok := strings.CutPrefix(lines[2], "[]byte(")
		require.True(t, ok, path)
		committed, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
		require.NoError(t, err, path)
		var got, want proto.CaseResult
		require.NoError(t, json.Unmarshal([]byte(committed), &got), path)
		require.NoError(t, json.Unmarshal(report, &want))
		assert.Equal(t, s.which, which, path)
		assert.Equal(t, want, got, path)
	}
	committed, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzCompare", "seed-*"))
	require.NoError(t, err)
	for _, p := range committed {
		_, ok := seeds[strings.TrimPrefix(filepath.Base(p), "seed-")]
		assert.True(t, ok, "%s is no seed of fuzzSeeds: remove it", p)
	}
}
