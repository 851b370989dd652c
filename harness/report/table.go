// Package report renders results for people and machines: the terminal
// table with per-argument diffs, and results.json. Renderers are pure
// functions of a result.Run, golden-tested. It imports result only.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ksystest/ksystest/harness/result"
)

// Table writes the target × case grid, then the evidence for everything
// that did not pass: per-argument expected vs captured, console tails.
func Table(w io.Writer, r *result.Run) error {
	var caseNames []string
	seen := map[string]bool{}
	for _, c := range r.Cells {
		for _, cs := range c.Cases {
			if !seen[cs.Name] {
				seen[cs.Name] = true
				caseNames = append(caseNames, cs.Name)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "TARGET\tKERNEL\tACCEL\tOUTCOME")
	for _, n := range caseNames {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(n))
	}
	fmt.Fprintf(tw, "\tAGENT\tDONE\tEXIT\n")
	for _, c := range r.Cells {
		kernel := c.Kernel.Release
		if c.Kernel.Version != "" {
			kernel += " (" + c.Kernel.Version + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s", c.Target, orDash(kernel), orDash(c.Accel), c.Outcome)
		for _, n := range caseNames {
			v := "-"
			for _, cs := range c.Cases {
				if cs.Name == n {
					v = string(cs.Verdict)
				}
			}
			fmt.Fprintf(tw, "\t%s", v)
		}
		fmt.Fprintf(tw, "\t%s\t%s\t%s\n", dur(c.Timings.AgentStartSec), dur(c.Timings.DoneSec), dur(c.Timings.ExitSec))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Cells {
		writeEvidence(w, c)
	}
	fmt.Fprintf(w, "\n%s in %.1fs\n", summary(r), r.WallSec)
	return nil
}

func writeEvidence(w io.Writer, c result.Cell) {
	if c.Outcome == result.OutcomePass {
		return
	}
	fmt.Fprintf(w, "\n%s: %s", c.Target, c.Outcome)
	if c.Reason != "" {
		fmt.Fprintf(w, ": %s", c.Reason)
	}
	fmt.Fprintln(w)
	if c.Outcome == result.OutcomeFail {
		for _, cs := range c.Cases {
			if cs.Verdict != result.Pass {
				writeCaseDiff(w, cs)
			}
		}
	}
	if len(c.ConsoleTail) > 0 {
		fmt.Fprintf(w, "  console tail (%s):\n", c.ConsoleLog)
		for _, l := range c.ConsoleTail {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
}

func writeCaseDiff(w io.Writer, cs result.Case) {
	fmt.Fprintf(w, "  case %s (probe %s on %s): %s\n", cs.Name, cs.Probe, orDash(cs.Attach), cs.Verdict)
	if cs.Message != "" {
		fmt.Fprintf(w, "    %s\n", cs.Message)
	}
	if cs.Captures == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    ARG\tNAME\tEXPECTED\tCAPTURED\tRESULT\n")
	for i, a := range cs.Args {
		mark := "ok"
		switch {
		case a.Expect == "ignore":
			mark = "ignored"
		case !a.OK:
			mark = "MISMATCH"
			if a.Note != "" {
				mark += ": " + a.Note
			}
		}
		fmt.Fprintf(tw, "    %d\t%s\t%#x\t%s\t%s\n", i+1, a.Name, a.Passed, captured(a.Captured), mark)
	}
	tw.Flush()
}

func captured(v *uint64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%#x", *v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dur(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs", s)
}

func summary(r *result.Run) string {
	counts := map[result.Outcome]int{}
	for _, c := range r.Cells {
		counts[c.Outcome]++
	}
	var parts []string
	for _, o := range []result.Outcome{result.OutcomePass, result.OutcomeFail, result.OutcomeCrash,
		result.OutcomeTimeout, result.OutcomeBootError, result.OutcomeInfraError} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	return fmt.Sprintf("%d targets: %s", len(r.Cells), strings.Join(parts, ", "))
}

// JSON writes results.json's content.
func JSON(w io.Writer, r *result.Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
