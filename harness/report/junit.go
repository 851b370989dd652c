package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/ksystest/ksystest/harness/result"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       float64         `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// JUnit writes one test case per target × case: a case whose probe went
// wrong is a failure with its per-argument diff; a case that never ran
// because its guest crashed, hung or never booted is an error with the
// console tail in system-out. quirk-confirmed and handled are passes.
func JUnit(w io.Writer, r *result.Run) error {
	out := junitSuites{Name: "ksystest", Time: r.WallSec}
	for _, c := range r.Cells {
		s := junitSuite{Name: c.Target, Time: c.Timings.ExitSec, Properties: []junitProperty{
			{"arch", c.Arch}, {"kernel", kernelLabel(c.Kernel)}, {"kernel_sha256", c.Kernel.SHA256},
			{"accel", c.Accel}, {"outcome", string(c.Outcome)}, {"wrapper", wrapperLabel(c)}, {"btf", btfLabel(c.Kernel.BTF)},
		}}
		tail := strings.Join(c.ConsoleTail, "\n")
		if tail != "" {
			s.SystemOut = fmt.Sprintf("console tail (%s):\n%s", c.ConsoleLog, tail)
		}
		ran := c.Outcome == result.OutcomePass || c.Outcome == result.OutcomeFail
		for _, cs := range c.Cases {
			jc := junitCase{Name: cs.Name, Classname: "ksystest." + c.Target}
			switch {
			case cs.Verdict.OK():
			case ran:
				var diff strings.Builder
				writeCaseDiff(&diff, cs)
				jc.Failure = &junitProblem{Message: firstNonEmpty(cs.Message, string(cs.Verdict)), Type: string(cs.Verdict), Body: diff.String()}
				s.Failures++
			default:
				jc.Error = &junitProblem{Message: fmt.Sprintf("%s: %s", c.Outcome, c.Reason), Type: string(c.Outcome), Body: cs.Message}
				jc.SystemOut = s.SystemOut
				s.Errors++
			}
			s.Cases = append(s.Cases, jc)
		}
		if c.Outcome == result.OutcomeFail && c.Reason != "" && s.Failures == 0 {
			// A target-level failure (the wrapper sources disagree).
			s.Cases = append(s.Cases, junitCase{Name: "target", Classname: "ksystest." + c.Target,
				Failure: &junitProblem{Message: c.Reason, Type: "fail"}})
			s.Failures++
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
