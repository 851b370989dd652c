package report

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ksystest/ksystest/harness/result"
)

var mdSymbol = map[result.Verdict]string{
	result.Pass:           "✅ pass",
	result.QuirkConfirmed: "🟨 quirk",
	result.Handled:        "🛠️ handled",
	result.Fail:           "❌ FAIL",
	verdictNotRun:         "⬜ not run",
}

// Markdown writes the report as GitHub-flavoured Markdown: targets, the
// case × target grid, the quirk table, and the failures with their
// per-argument diffs. Console logs are linked relative to logBase.
func Markdown(w io.Writer, r *result.Run, logBase string) error {
	fmt.Fprintf(w, "## ksystest: %s\n\n", summary(r))
	fmt.Fprintf(w, "| target | kernel | wrapper | btf | accel | outcome | agent | done | exit | console |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Cells {
		console := "-"
		if c.ConsoleLog != "" {
			console = fmt.Sprintf("[log](%s)", path.Join(logBase, c.ConsoleLog))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Target, mdEscape(orDash(kernelLabel(c.Kernel))),
			wrapperLabel(c), btfLabel(c.Kernel.BTF), orDash(c.Accel), outcomeMD(c.Outcome),
			dur(c.Timings.AgentStartSec), dur(c.Timings.DoneSec), dur(c.Timings.ExitSec), console)
	}

	fmt.Fprintf(w, "\n| case |")
	for _, c := range r.Cells {
		fmt.Fprintf(w, " %s |", c.Target)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(r.Cells)))
	for _, name := range caseNames(r) {
		fmt.Fprintf(w, "| %s |", name)
		for _, c := range r.Cells {
			v, ok := verdictOf(c, name)
			cell := "-"
			if ok {
				cell = mdSymbol[v]
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%s\n\n%s\n", Legend, WrapperLegend)

	if quirks := quirksOf(r); len(quirks) > 0 {
		arches := archesOf(r)
		fmt.Fprintf(w, "\n### Quirks\n\n| quirk |")
		for _, a := range arches {
			fmt.Fprintf(w, " %s |", a)
		}
		fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(arches)))
		for _, q := range quirks {
			fmt.Fprintf(w, "| **%s** |", q.Quirk)
			for _, a := range arches {
				cell, ok := q.Arches[a]
				if !ok {
					fmt.Fprintf(w, " - |")
					continue
				}
				fmt.Fprintf(w, " naive: %s<br>aware: %s |", mdEscape(orDash(cell.Naive)), mdEscape(cell.Aware))
			}
			fmt.Fprintln(w)
		}
	}

	var warnings strings.Builder
	writeLoaderNotes(&warnings, r, "")
	writeLabelNotices(&warnings, r, "")
	writeWarnings(&warnings, r, "    ")
	if warnings.Len() > 0 {
		fmt.Fprintf(w, "\n### Notes\n\n```%s```\n", warnings.String())
	}

	var failures strings.Builder
	for _, c := range r.Cells {
		writeEvidence(&failures, c)
	}
	if failures.Len() > 0 {
		fmt.Fprintf(w, "\n### What went wrong\n\n```%s```\n", failures.String())
	}
	return nil
}

func outcomeMD(o result.Outcome) string {
	if o == result.OutcomePass {
		return "✅ pass"
	}
	return "❌ " + string(o)
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
