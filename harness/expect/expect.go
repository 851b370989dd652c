// Package expect compares what a probe captured with what the agent passed,
// argument by argument, against the case's expectations for the arch: a
// plain match, a naive probe's predicted quirk, or an aware probe's full
// recovery. It is pure: no I/O, no clock. It imports matrix (for the case
// definitions), proto (for the agent's report) and result.
package expect

import (
	"cmp"
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
)

// noticePrefix starts what KernelNames.Note says of a label that names no
// parameter of the kernel's: a notice, not a disagreement.
const noticePrefix = "notice: "

// Compare judges one planned case on one target.
func Compare(def matrix.Planned, archName string, got proto.CaseResult) result.Case {
	if def.CaseDef.Workload != nil {
		return workloadCase(def, archName, got)
	}
	c := compare(def, archName, got)
	c.Kernel = kernelNames(def)
	if !def.Kernel.Agree {
		c.Verdict = result.Fail
		c.Message = strings.TrimSuffix("catalogue error: "+def.Kernel.Note+"; "+c.Message, "; ")
	}
	if got.Error != "" {
		return c
	}
	c.Oracle = oracle(def, archName, got, c.Args)
	if c.Oracle.Status == result.OracleDisagrees || c.Oracle.Status == result.OracleNotSeen {
		c.Verdict = result.Fail
		c.Message = strings.TrimPrefix(c.Message+"; ", "; ") + "syscall tracepoint " + c.Oracle.Status + ": " + c.Oracle.Note
	}
	if def.Via == proto.ViaEffects {
		if msg := effects(def, got, c.Args); msg != "" {
			c.Verdict = result.Fail
			c.Message = strings.TrimPrefix(c.Message+"; ", "; ") + msg
		}
	}
	return c
}

// kernelNames is the kernel's side of the names check, for the report. A
// notice (a label that names no parameter) rides in Note after what it
// says otherwise, marked as such: it fails nothing.
func kernelNames(def matrix.Planned) *result.KernelNames {
	k := &result.KernelNames{Catalogue: def.Kernel.Catalogue, Agree: def.Kernel.Agree, Note: def.Kernel.Note}
	if n := def.Kernel.Notice; n != "" {
		k.Note = strings.TrimPrefix(k.Note+"; "+noticePrefix+n, "; ")
	}
	if p := def.Kernel.Params; p != nil {
		k.Names, k.Source = p.Names, p.Source
	}
	return k
}

func compare(def matrix.Planned, archName string, got proto.CaseResult) result.Case {
	c := result.Case{
		Name: def.Name, Probe: def.Probe, Syscall: def.Syscall, Via: def.Via, Compat: def.Compat,
		Attach: got.Attach, Quirk: def.Quirk, Role: def.Role,
		Captures: len(got.Captures), Ret: got.Ret, Errno: got.Errno,
	}
	if n, ok := got.Runs[def.Probe]; ok && def.Probe != "" {
		c.Runs = &n
	}
	predicted := def.Pred != nil
	var pred matrix.Prediction
	if predicted {
		pred = *def.Pred
		c.Predicted = pred.String()
		if pred.Why != "" {
			c.Predicted += " (" + pred.Why + ")"
		}
	}
	row := bestRow(got.Captures, got.Passed, def.Args)
	c.Args = compareArgs(def.Args, def.Expect, got, row)
	if def.Probe == "" {
		// No probe of its own: the arguments as passed, read in the sets.
		for i := range c.Args {
			c.Args[i].Expect, c.Args[i].OK, c.Args[i].Note = matrix.ExpectIgnore, true, "read in the capture sets"
		}
	}
	matched := allOK(c.Args)

	switch {
	case got.Error != "":
		c.Verdict, c.Message = result.Fail, got.Error
	case got.LoadError != "" && !(predicted && (pred.NoLoad || pred.Refused)):
		c.Verdict, c.Message = result.Fail, "probe did not load: "+got.LoadError
	case predicted:
		c.Verdict, c.Message = judgePrediction(pred, def, got, row, c.Args, matched)
	case got.AttachError != "":
		c.Verdict, c.Message = result.Fail, "probe did not attach: "+got.AttachError
	case def.Probe == "":
		// The readings are all in capture sets.
		c.Verdict = result.Pass
	case len(got.Captures) == 0:
		c.Verdict, c.Message = result.Fail, notReported(def.Probe, c.Runs)
	case !matched:
		c.Verdict, c.Message = result.Fail, describe(def, got.Passed, c.Args)
	default:
		c.Verdict = result.Pass
	}
	if c.Verdict == result.Pass && def.Role == matrix.RoleAware {
		c.Verdict = result.Handled
	}
	if c.Verdict.OK() && len(got.Captures) > 1 {
		c.Message = fmt.Sprintf("probe fired %d times for one call; the best-matching capture is shown", len(got.Captures))
	}
	refused := predicted && pred.Refused && c.Verdict == result.QuirkConfirmed
	if got.Error == "" && got.LoadError == "" && !refused {
		judgeSets(&c, def, archName, got)
	}
	return c
}

// notReported tells a probe that never ran from one that ran and
// reported nothing, from its run count.
func notReported(probe string, runs *uint64) string {
	switch {
	case runs == nil:
		return "probe did not fire for the call (the kernel keeps no run counts to say whether it ran)"
	case *runs == 0:
		return fmt.Sprintf("probe did not fire for the call: %s never ran", probe)
	}
	return fmt.Sprintf("%s ran %d time(s) during the call but reported nothing for it (does it filter on another thread or process?)", probe, *runs)
}

// judgeSets judges each capture set on its own: a wrong set fails the
// case, whatever the others say.
func judgeSets(c *result.Case, def matrix.Planned, archName string, got proto.CaseResult) {
	for i, cd := range def.Captures {
		set := result.CaptureSet{Name: cd.Name, Program: strings.Join(cd.AllPrograms(), ", ")}
		if n, ok := got.Runs[cd.Program]; ok {
			set.Runs = &n
		}
		var sr proto.SetResult
		if i < len(got.Sets) {
			sr = got.Sets[i]
		}
		expect := def.SetExpect[i]
		switch {
		case cd.Events != "":
			set.Args, set.Message = judgeRecords(cd, def, archName, got, sr, expect)
		case cd.Emit != nil:
			row := bestRow(sr.Rows, got.Passed, def.Args)
			set.Args = compareArgs(def.Args, expect, got, row)
			if len(sr.Rows) == 0 {
				set.Message = notReported(cd.Program, set.Runs)
			}
		default:
			set.Args, set.Message = judgeGlobals(def, archName, got, sr, expect)
		}
		for j := range set.Args {
			set.Args[j].From = readFrom(cd, j)
		}
		set.OK = allOK(set.Args)
		if !set.OK && set.Message == "" {
			set.Message = describeFrom(def, got.Passed, set.Args)
			if set.Runs != nil && *set.Runs == 0 {
				set.Message = fmt.Sprintf("%s never ran during the call; %s", cd.Program, set.Message)
			}
		}
		if !set.OK {
			c.Verdict = result.Fail
			c.Message = strings.TrimPrefix(c.Message+"; ", "; ") + fmt.Sprintf("capture set %s: %s", cd.Name, set.Message)
		}
		c.Sets = append(c.Sets, set)
	}
}

// judgeGlobals judges a set of globals and map values; a global that is
// an array or a struct is content, compared with what its argument
// pointed to.
func judgeGlobals(def matrix.Planned, archName string, got proto.CaseResult, sr proto.SetResult, expect []string) ([]result.Arg, string) {
	row := make([]uint64, len(def.Args))
	readable := true
	content := func(j int) (proto.Field, []byte, bool) {
		if j < len(sr.Fields) && j < len(sr.Contents) && sr.Fields[j].Content {
			return sr.Fields[j], sr.Contents[j], true
		}
		return proto.Field{}, nil, false
	}
	for j := range def.Args {
		_, _, isContent := content(j)
		switch {
		case j < len(sr.Values) && sr.Values[j] != nil:
			row[j] = *sr.Values[j]
		case isContent:
		case expect[j] != matrix.ExpectIgnore:
			readable = false
		}
	}
	args := compareArgs(def.Args, expect, got, row)
	for j := range args {
		if f, b, ok := content(j); ok && (j >= len(sr.Errors) || sr.Errors[j] == "") {
			judgeContent(&args[j], def, archName, got, j, f, b)
			if b == nil && expect[j] != matrix.ExpectIgnore {
				args[j].OK, args[j].Note = false, "not read"
			}
			continue
		}
		if j < len(sr.Errors) && sr.Errors[j] != "" && expect[j] != matrix.ExpectIgnore {
			args[j].Captured, args[j].OK, args[j].Note = nil, false, sr.Errors[j]
		}
	}
	if !readable {
		return args, "could not read every value"
	}
	return args, ""
}

// judgeRecords judges a set read from the records a program wrote to its
// own ring buffer or perf event array: the records of the call's thread
// (or process; every record when the record names neither), the one
// matching best shown, its fields compared with what was passed.
func judgeRecords(cd matrix.CaptureDef, def matrix.Planned, archName string, got proto.CaseResult, sr proto.SetResult, expect []string) ([]result.Arg, string) {
	none := compareArgs(def.Args, expect, got, nil)
	fail := func(msg string) ([]result.Arg, string) {
		for j := range none {
			if !none[j].OK {
				none[j].Note = msg
			}
		}
		return none, msg
	}
	if sr.Error != "" {
		return fail("records not read: " + sr.Error)
	}
	var mine []proto.Record
	others := 0
	for _, r := range sr.Records {
		switch {
		case cd.TID != "" && (r.Thread == nil || *r.Thread != uint64(got.TID)):
			others++
		case cd.PID != "" && (r.Thread == nil || *r.Thread != uint64(got.PID)):
			others++
		default:
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		var runs *uint64
		if n, ok := got.Runs[cd.Program]; ok {
			runs = &n
		}
		msg := "no record in " + cd.Events + " for the call: " + notReported(cd.Program, runs)
		if others > 0 {
			msg += fmt.Sprintf(" (%d record(s) of other threads: field %s is none of the call's %s)", others, cd.TID+cd.PID, threadWord(cd))
		}
		if sr.Lost > 0 {
			msg += fmt.Sprintf("; %d record(s) lost", sr.Lost)
		}
		return fail(msg)
	}
	var best []result.Arg
	bestScore := -1
	for _, r := range mine {
		args := recordArgs(def, archName, got, sr.Fields, r, expect)
		score := 0
		for _, a := range args {
			if a.OK {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = args, score
		}
	}
	msg := ""
	if len(mine) > 1 {
		msg = fmt.Sprintf("%d records for one call; the best-matching is shown", len(mine))
	}
	if sr.Lost > 0 {
		msg = strings.TrimPrefix(msg+"; ", "; ") + fmt.Sprintf("%d record(s) lost", sr.Lost)
	}
	if !allOK(best) {
		for j := range best {
			best[j].From = readFrom(cd, j)
		}
		msg = strings.TrimPrefix(describeFrom(def, got.Passed, best)+"; "+msg, "; ")
		msg = strings.TrimSuffix(msg, "; ")
	}
	return best, msg
}

func threadWord(cd matrix.CaptureDef) string {
	if cd.TID != "" {
		return "thread"
	}
	return "process"
}

// recordArgs compares one record's fields with what was passed.
func recordArgs(def matrix.Planned, archName string, got proto.CaseResult, fields []proto.Field, r proto.Record, expect []string) []result.Arg {
	row := make([]uint64, len(def.Args))
	narrow := registerBytes(archName, def.Compat) == 4
	for j := range row {
		if j < len(r.Values) && r.Values[j] != nil {
			row[j] = *r.Values[j]
			// The agent sign-extends a signed field to 64 bits; a 32-bit
			// task's register, what was passed, holds 32 (int dfd = -100
			// on arm is 0xffffff9c).
			if narrow && j < len(fields) && fields[j].Signed && fields[j].Size <= 4 {
				row[j] &= 0xffffffff
			}
		}
	}
	args := compareArgs(def.Args, expect, got, row)
	for j := range args {
		if expect[j] == matrix.ExpectIgnore {
			args[j].Captured = nil
			continue
		}
		if j >= len(fields) {
			args[j].Captured, args[j].OK, args[j].Note = nil, false, "no field reported"
			continue
		}
		f := fields[j]
		var b []byte
		if j < len(r.Bytes) {
			b = r.Bytes[j]
		}
		switch {
		case f.Error != "":
			args[j].Captured, args[j].OK, args[j].Note = nil, false, f.Error
		case f.Content && b == nil:
			args[j].Captured, args[j].OK, args[j].Note = nil, false, notInRecord(r, f)
		case f.Content:
			judgeContent(&args[j], def, archName, got, j, f, b)
		case j >= len(r.Values) || r.Values[j] == nil:
			args[j].Captured, args[j].OK, args[j].Note = nil, false, notInRecord(r, f)
		}
	}
	return args
}

// registerBytes is the width of the calling task's registers: 4 for a
// 32-bit arch or a compat case (a 32-bit program on a 64-bit kernel).
func registerBytes(archName string, compat bool) int {
	a, err := arch.Lookup(archName)
	if err == nil && (a.ELFClass == elf.ELFCLASS32 || compat && a.Compat != nil) {
		return 4
	}
	return 8
}

func notInRecord(r proto.Record, f proto.Field) string {
	return fmt.Sprintf("not in the record: it is %d bytes, the field ends at %d", r.Size, f.Offset+f.Size)
}

// readFrom names where a capture set reads argument j.
func readFrom(cd matrix.CaptureDef, j int) string {
	if cd.Emit != nil {
		return fmt.Sprintf("ring set %d", *cd.Emit)
	}
	if j >= len(cd.Args) {
		return ""
	}
	a := cd.Args[j]
	switch {
	case a.Field != "":
		return "field " + a.Field
	case a.Global != "":
		return "global " + a.Global
	case a.Map != "":
		return fmt.Sprintf("map %s[%s]", a.Map, a.Key)
	}
	return ""
}

// bestRow picks the capture that matches the passed values best: the Go
// runtime may make calls of its own on the trigger thread.
func bestRow(rows [][]uint64, passed []uint64, defs []matrix.ArgDef) []uint64 {
	var best []uint64
	bestScore := -1
	for _, r := range rows {
		score := 0
		for i := range defs {
			if i < len(r) && i < len(passed) && r[i] == passed[i] {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = r, score
		}
	}
	return best
}

// compareArgs checks each argument's capture (row) against what was
// passed, as expect says: match, ignore, or differ.
func compareArgs(defs []matrix.ArgDef, expect []string, got proto.CaseResult, row []uint64) []result.Arg {
	var args []result.Arg
	for i, a := range defs {
		ex := matrix.ExpectMatch
		if i < len(expect) {
			ex = expect[i]
		}
		arg := result.Arg{Name: a.Name, Expect: ex}
		if i < len(got.Passed) {
			arg.Passed = got.Passed[i]
		}
		if i < len(row) {
			v := row[i]
			arg.Captured = &v
		}
		switch {
		case ex == matrix.ExpectIgnore:
			arg.OK = true
		case got.Error != "" || i >= len(got.Passed):
			arg.Note = "not run"
		case arg.Captured == nil:
			arg.Note = "not captured"
		case ex == matrix.ExpectDiffer && *arg.Captured != arg.Passed:
			arg.OK, arg.Note = true, "differs from the value passed, as expected"
		case ex == matrix.ExpectDiffer:
			arg.Note = "equals the value passed, expected to differ"
		case *arg.Captured == arg.Passed:
			arg.OK = true
		default:
			arg.Note = explain(*arg.Captured, i, got, defs)
		}
		args = append(args, arg)
	}
	return args
}

func allOK(args []result.Arg) bool {
	for _, a := range args {
		if !a.OK {
			return false
		}
	}
	return true
}

// judgePrediction checks a naive probe against how it was predicted to go
// wrong. A probe that captured everything correctly fails too: the quirk
// is gone, and the user must hear it.
func judgePrediction(p matrix.Prediction, def matrix.Planned, got proto.CaseResult, row []uint64, args []result.Arg, matched bool) (result.Verdict, string) {
	gone := func() (result.Verdict, string) {
		return result.Fail, fmt.Sprintf("predicted %s, but the probe captured every argument: the quirk no longer appears", p)
	}
	switch {
	case p.Never:
		if got.AttachError != "" {
			return result.QuirkConfirmed, "never fires: " + got.AttachError
		}
		if len(got.Captures) == 0 {
			return result.QuirkConfirmed, "never fires: attached, but no event for the call"
		}
		if matched {
			return gone()
		}
		return result.Fail, "predicted never fires, but it fired: " + describe(def, got.Passed, args)
	case len(p.Swap) == 2:
		if len(got.Captures) == 0 {
			return result.Fail, fmt.Sprintf("predicted %s, but the probe did not fire", p)
		}
		if matched {
			return gone()
		}
		a, b := p.Swap[0]-1, p.Swap[1]-1
		if min(a, b) < 0 || max(a, b) >= min(len(row), len(got.Passed)) {
			return result.Fail, fmt.Sprintf("predicted %s, but the agent's record is malformed: captured %#x, passed %#x", p, row, got.Passed)
		}
		swapped := row[a] == got.Passed[b] && row[b] == got.Passed[a]
		for i := range args {
			if i != a && i != b && !args[i].OK {
				swapped = false
			}
		}
		if swapped {
			args[a].Note = fmt.Sprintf("equals passed arg %d (%s), as predicted", b+1, def.Args[b].Name)
			args[b].Note = fmt.Sprintf("equals passed arg %d (%s), as predicted", a+1, def.Args[a].Name)
			return result.QuirkConfirmed, fmt.Sprintf("args %d (%s) and %d (%s) arrive swapped, as predicted",
				a+1, def.Args[a].Name, b+1, def.Args[b].Name)
		}
		return result.Fail, fmt.Sprintf("predicted %s, but: %s", p, describe(def, got.Passed, args))
	case p.Refused:
		if refusal := cmp.Or(got.LoadError, got.AttachError); refusal != "" {
			line, _, _ := strings.Cut(refusal, "\n")
			return result.QuirkConfirmed, "refused, as declared: " + line
		}
		if matched {
			return result.Fail, fmt.Sprintf("declared that %s, but it loaded and attached", p)
		}
		return result.Fail, fmt.Sprintf("declared that %s, but it loaded and attached: %s", p, describe(def, got.Passed, args))
	case p.NoLoad:
		if got.LoadError != "" {
			line, _, _ := strings.Cut(got.LoadError, "\n")
			return result.QuirkConfirmed, "does not load, as predicted: " + line
		}
		if matched {
			return gone()
		}
		return result.Fail, fmt.Sprintf("predicted %s, but it loaded: %s", p, describe(def, got.Passed, args))
	case len(p.Regs) > 0:
		if len(got.Captures) == 0 {
			return result.Fail, fmt.Sprintf("predicted it %s, but the probe did not fire", p)
		}
		if matched {
			return gone()
		}
		for i, r := range p.Regs {
			if i >= len(row) || r < 1 || r > len(got.Regs) || row[i] != got.Regs[r-1] {
				return result.Fail, fmt.Sprintf("predicted it %s, but: %s", p, describe(def, got.Passed, args))
			}
			if !args[i].OK {
				args[i].Note = fmt.Sprintf("what register %d carried, as predicted", r)
			}
		}
		return result.QuirkConfirmed, fmt.Sprintf("it %s as arguments 1..%d, as predicted", p, len(p.Regs))
	case p.LoaderWrapper, p.WrongRegs:
		if len(got.Captures) == 0 {
			return result.Fail, fmt.Sprintf("predicted it %s, but the probe did not fire", p)
		}
		if matched {
			return gone()
		}
		return result.QuirkConfirmed, p.String() + ", as predicted: " + describe(def, got.Passed, args)
	case p.Pointer:
		if len(got.Captures) == 0 || len(got.Regs) == 0 || len(row) == 0 {
			return result.Fail, fmt.Sprintf("predicted %s, but the probe did not fire", p)
		}
		if matched {
			return gone()
		}
		if row[0] == got.Regs[0] {
			args[0].Note = "the address of the argument struct, as predicted"
			return result.QuirkConfirmed, fmt.Sprintf("arg 1 is %#x, the address of the struct holding the arguments, as predicted", row[0])
		}
		return result.Fail, fmt.Sprintf("predicted %s, but arg 1 is %#x, not the struct at %#x", p, row[0], got.Regs[0])
	}
	return result.Fail, "unknown prediction"
}

// describe lists what went wrong, naming swaps as swaps.
func describe(def matrix.Planned, passed []uint64, args []result.Arg) string {
	var parts []string
	reported := map[int]bool{}
	for i, a := range args {
		if a.OK || reported[i] || a.Captured == nil || a.Expect == matrix.ExpectDiffer {
			continue
		}
		if j := swapPartner(i, passed, args); j >= 0 {
			parts = append(parts, fmt.Sprintf("args %d (%s) and %d (%s) are swapped", i+1, def.Args[i].Name, j+1, def.Args[j].Name))
			reported[j] = true
			continue
		}
		parts = append(parts, fmt.Sprintf("arg %d (%s) expected %#x, captured %#x", i+1, a.Name, a.Passed, *a.Captured))
	}
	if len(parts) == 0 {
		for i, a := range args {
			if !a.OK {
				parts = append(parts, fmt.Sprintf("arg %d (%s) %s", i+1, a.Name, a.Note))
			}
		}
	}
	return strings.Join(parts, "; ")
}

// describeFrom is describe, naming where each wrong reading came from:
// two readings that hold each other's values are said as a swap, a copy
// of content by what it holds.
func describeFrom(def matrix.Planned, passed []uint64, args []result.Arg) string {
	var parts []string
	reported := map[int]bool{}
	from := func(a result.Arg) string {
		if a.From == "" {
			return ""
		}
		return " from " + a.From
	}
	for i, a := range args {
		if a.OK || reported[i] {
			continue
		}
		if a.PassedContent != "" || a.Truncated {
			parts = append(parts, fmt.Sprintf("arg %d (%s)%s: %s", i+1, a.Name, from(a), a.Note))
			continue
		}
		if j := swapPartner(i, passed, args); a.Captured != nil && j >= 0 && a.Expect != matrix.ExpectDiffer && args[j].Expect != matrix.ExpectDiffer {
			b := args[j]
			parts = append(parts, fmt.Sprintf("args %d (%s) and %d (%s) are swapped: %s holds %#x, passed as %s; %s holds %#x, passed as %s",
				i+1, a.Name, j+1, b.Name, orArg(a.From, i), *a.Captured, b.Name, orArg(b.From, j), *b.Captured, a.Name))
			reported[j] = true
			continue
		}
		captured := "nothing"
		if a.Captured != nil {
			captured = fmt.Sprintf("%#x", *a.Captured)
		}
		what := fmt.Sprintf("expected %#x", a.Passed)
		if a.Expect == matrix.ExpectDiffer {
			what = fmt.Sprintf("expected to differ from %#x", a.Passed)
		}
		note := ""
		if a.Captured == nil && a.Note != "" && a.Note != "not captured" {
			note = ": " + a.Note
		}
		parts = append(parts, fmt.Sprintf("arg %d (%s) %s, captured %s%s%s", i+1, a.Name, what, captured, from(a), note))
	}
	return strings.Join(parts, "; ")
}

// orArg names where argument i was read, or the argument.
func orArg(from string, i int) string {
	if from == "" {
		return fmt.Sprintf("arg %d", i+1)
	}
	return from
}

func swapPartner(i int, passed []uint64, args []result.Arg) int {
	if args[i].Captured == nil {
		return -1
	}
	for j := range args {
		if j == i || j >= len(passed) || i >= len(passed) || args[j].Captured == nil {
			continue
		}
		if *args[i].Captured == passed[j] && *args[j].Captured == passed[i] {
			return j
		}
	}
	return -1
}

// explain names what a wrong value is, when it is something recognisable:
// another argument (a swap or shift), or a truncation.
func explain(captured uint64, self int, got proto.CaseResult, defs []matrix.ArgDef) string {
	passed := got.Passed
	for j, p := range passed {
		if j != self && p == captured && j < len(defs) {
			return fmt.Sprintf("equals passed arg %d (%s)", j+1, defs[j].Name)
		}
	}
	for j := max(got.NArgs, 0); j < len(got.Regs); j++ {
		if captured == got.Regs[j] {
			return fmt.Sprintf("what register %d carried (not an argument of this call)", j+1)
		}
	}
	if uint32(captured) == uint32(passed[self]) {
		return "low 32 bits match, high bits differ"
	}
	if captured == 0 {
		return "zero"
	}
	if int64(captured) == -errENOSYS {
		// s390x and others park -ENOSYS in the first argument's register
		// before dispatching; the argument itself is elsewhere.
		return "-ENOSYS (the kernel's placeholder return value, not an argument)"
	}
	return "unrelated value"
}

// effects checks what a real clone did against the catalogue's names:
// the child's TID written through parent_tid (in the parent) and
// child_tid (in the child), and its thread pointer set from tls. Each
// argument's Effect says what the kernel did with it; the message, empty
// when all is as named, says where the kernel put what it put elsewhere.
func effects(def matrix.Planned, got proto.CaseResult, args []result.Arg) string {
	e := got.Effects
	if e == nil {
		return "no effects reported for a call made for real"
	}
	if e.Error != "" {
		return "effects: " + e.Error
	}
	if len(e.Parent) != len(args) || len(e.Child) != len(args) || len(e.Buffer) != len(args) {
		return fmt.Sprintf("effects: %d/%d words reported for %d arguments", len(e.Parent), len(e.Child), len(args))
	}
	tid := e.ChildTID
	for i := range args {
		var did []string
		if e.Buffer[i] && e.Parent[i] == tid {
			did = append(did, fmt.Sprintf("the kernel wrote the child's TID (%d) here in the parent", tid))
		}
		if e.Buffer[i] && e.Child[i] == tid {
			did = append(did, fmt.Sprintf("the kernel wrote the child's TID (%d) here in the child", tid))
		}
		if string(def.Args[i].Value) == "tls" && e.TLS == e.TLSWant {
			did = append(did, fmt.Sprintf("the child's thread pointer is %#x, as this asked", e.TLS))
		}
		args[i].Effect = strings.Join(did, "; ")
	}
	var wrong []string
	named := func(canon string) int {
		for i, a := range def.Args {
			if sysparams.Canon(a.Name) == canon {
				return i
			}
		}
		return -1
	}
	where := func(words []uint32) string {
		for j := range args {
			if e.Buffer[j] && words[j] == tid {
				return fmt.Sprintf("through argument %d (%s)", j+1, def.Args[j].Name)
			}
		}
		return "nowhere the agent looked"
	}
	if i := named("parent_tid"); i < 0 || !e.Buffer[i] || e.Parent[i] != tid {
		wrong = append(wrong, "the kernel wrote the child's TID in the parent "+where(e.Parent)+", not through parent_tid")
	}
	if i := named("child_tid"); i < 0 || !e.Buffer[i] || e.Child[i] != tid {
		wrong = append(wrong, "the kernel wrote the child's TID in the child "+where(e.Child)+", not through child_tid")
	}
	if e.TLS != e.TLSWant {
		tp := fmt.Sprintf("%#x", e.TLS)
		for j := range args {
			if e.TLS != 0 && args[j].Passed == e.TLS {
				tp += fmt.Sprintf(", argument %d (%s)", j+1, def.Args[j].Name)
			}
		}
		wrong = append(wrong, fmt.Sprintf("the child's thread pointer is %s, not %#x from tls", tp, e.TLSWant))
	}
	if len(wrong) == 0 {
		return ""
	}
	return "effects: " + strings.Join(wrong, "; ")
}

// errENOSYS is ENOSYS on every Linux arch ksystest boots.
const errENOSYS = 38

// Missing returns the verdict for a case the agent never reported (the
// guest crashed or hung first): it fails with reason, marked not run.
func Missing(def matrix.Planned, archName, reason string) result.Case {
	c := Compare(def, archName, proto.CaseResult{Name: def.Name, Error: reason})
	c.NotRun = true
	return c
}

// oracle checks the call against the raw_syscalls/sys_enter tracepoint:
// for a raw call, the record with the call's number must hold exactly the
// registers the agent passed. It also fills in each argument's tracepoint
// value where one register held it.
func oracle(def matrix.Planned, archName string, got proto.CaseResult, args []result.Arg) *result.Oracle {
	o := &result.Oracle{Source: "raw_syscalls/sys_enter"}
	switch {
	case got.OracleError != "":
		o.Status, o.Note = result.OracleUnavailable, got.OracleError
		return o
	case len(got.Oracle) == 0:
		// Not even the call itself: the agent reported no tracepoint
		// records at all (an older agent, or a scripted test).
		o.Status, o.Note = result.OracleUnavailable, "no tracepoint records reported"
		return o
	case got.NR < 0:
		var nrs []string
		for _, rec := range got.Oracle {
			nrs = append(nrs, fmt.Sprint(rec.NR))
		}
		o.Status = result.OracleNA
		o.Note = "a library path: syscalls " + strings.Join(nrs, ", ")
		return o
	}
	var rec *proto.OracleCall
	for i := range got.Oracle {
		if got.Oracle[i].NR == got.NR {
			rec = &got.Oracle[i]
			break
		}
	}
	if rec == nil {
		o.Status, o.NR = result.OracleNotSeen, got.NR
		o.Note = fmt.Sprintf("no sys_enter for syscall %d on the calling thread", got.NR)
		return o
	}
	o.NR, o.Args = rec.NR, rec.Args
	if len(rec.Args) < len(got.Regs) {
		o.Status = result.OracleDisagrees
		o.Note = fmt.Sprintf("malformed record: %d values %#x for the %d registers the agent passed %#x", len(rec.Args), rec.Args, len(got.Regs), got.Regs)
		return o
	}
	for i, r := range got.Regs {
		if rec.Args[i] != r {
			o.Status = result.OracleDisagrees
			o.Note = fmt.Sprintf("register %d is %#x there, the agent passed %#x", i+1, rec.Args[i], r)
			return o
		}
	}
	o.Status = result.OracleAgrees
	// Map registers back to arguments: register j holds argument order[j].
	if slices.Contains(def.Pack, archName) {
		return o
	}
	order := def.Order
	reg := 0
	for i := range args {
		if strings.HasPrefix(string(def.Args[i].Value), "deref:") {
			continue
		}
		j := reg
		if len(order) > 0 {
			j = slices.Index(order, reg+1)
		}
		reg++
		if j >= 0 && j < len(rec.Args) {
			v := rec.Args[j]
			args[i].Tracepoint = &v
		}
	}
	return o
}
