package expect

import (
	"testing"

	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/stretchr/testify/assert"
)

var splice = matrix.CaseDef{Name: "splice", Probe: "ksys_splice", Syscall: "splice", Args: []matrix.ArgDef{
	{Name: "fd_in", Expect: "match"}, {Name: "off_in", Expect: "match"}, {Name: "fd_out", Expect: "match"},
	{Name: "off_out", Expect: "match"}, {Name: "len", Expect: "match"}, {Name: "flags", Expect: "ignore"},
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
			msg:     "probe did not fire for the call",
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
			c := Compare(splice, tc.got)
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

func TestCompareTwoCapturesFails(t *testing.T) {
	c := Compare(splice, proto.CaseResult{Passed: passed, Captures: [][]uint64{passed, passed}})
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Message, "fired 2 times")
}
