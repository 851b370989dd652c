// Package expect compares what a probe captured with what the agent passed,
// argument by argument, against the case's expectations. It is pure: no
// I/O, no clock. It imports matrix (for the case definitions), proto (for
// the agent's report) and result.
package expect

import (
	"fmt"
	"strings"

	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
)

// Compare judges one case.
func Compare(def matrix.CaseDef, got proto.CaseResult) result.Case {
	c := result.Case{
		Name: def.Name, Probe: def.Probe, Syscall: def.Syscall, Attach: got.Attach,
		Captures: len(got.Captures), Ret: got.Ret, Errno: got.Errno,
	}
	var row []uint64
	if len(got.Captures) > 0 {
		row = got.Captures[0]
	}
	var problems []string
	for i, a := range def.Args {
		arg := result.Arg{Name: a.Name, Expect: a.Expect}
		if i < len(got.Passed) {
			arg.Passed = got.Passed[i]
		}
		if i < len(row) {
			v := row[i]
			arg.Captured = &v
		}
		switch {
		case a.Expect == matrix.ExpectIgnore:
			arg.OK = true
		case got.Error != "" || i >= len(got.Passed):
			arg.Note = "not run"
		case arg.Captured == nil:
			arg.Note = "not captured"
		case *arg.Captured == arg.Passed:
			arg.OK = true
		default:
			arg.Note = explain(*arg.Captured, i, got.Passed, def.Args)
		}
		if !arg.OK && got.Error == "" && len(row) > 0 {
			problems = append(problems, fmt.Sprintf("arg %d (%s) expected %#x, captured %s", i+1, a.Name, arg.Passed, hexOrNone(arg.Captured)))
		}
		c.Args = append(c.Args, arg)
	}
	switch {
	case got.Error != "":
		c.Message = got.Error
	case len(got.Captures) == 0:
		c.Message = "probe did not fire for the call"
	case len(got.Captures) > 1:
		problems = append(problems, fmt.Sprintf("probe fired %d times for one call", len(got.Captures)))
	}
	if len(problems) > 0 {
		c.Message = strings.Join(problems, "; ")
	}
	c.Verdict = result.Pass
	if c.Message != "" {
		c.Verdict = result.Fail
	}
	return c
}

// explain names what a wrong value is, when it is something recognisable:
// another argument (a swap or shift), or a truncation.
func explain(captured uint64, self int, passed []uint64, defs []matrix.ArgDef) string {
	for j, p := range passed {
		if j != self && p == captured && j < len(defs) {
			return fmt.Sprintf("equals passed arg %d (%s)", j+1, defs[j].Name)
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

// errENOSYS is ENOSYS on every Linux arch ksystest boots.
const errENOSYS = 38

func hexOrNone(v *uint64) string {
	if v == nil {
		return "nothing"
	}
	return fmt.Sprintf("%#x", *v)
}

// Missing returns the verdicts for cases the agent never reported (the
// guest crashed or hung first): each fails with reason.
func Missing(def matrix.CaseDef, reason string) result.Case {
	c := Compare(def, proto.CaseResult{Name: def.Name, Error: reason})
	return c
}
