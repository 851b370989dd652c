// Package report renders results for people and machines: the terminal
// report (targets, the case × target grid, the quirk table, evidence for
// everything that went wrong), Markdown, and results.json. Renderers are
// pure functions of a result.Run, golden-tested. It imports result only.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ksystest/ksystest/harness/result"
)

// Short verdict labels for the grid.
func label(v result.Verdict) string {
	switch v {
	case result.Pass:
		return "pass"
	case result.QuirkConfirmed:
		return "quirk"
	case result.Handled:
		return "handled"
	case result.Fail:
		return "FAIL"
	}
	return string(v) // not run
}

// Legend explains the grid's labels.
const Legend = "pass: captured as passed · quirk: a naive probe went wrong exactly as predicted · " +
	"handled: an aware probe recovered every argument · FAIL: anything else · " +
	"not run: the host or the config stopped the target first · -: not run on this arch"

// WrapperLegend explains the WRAPPER column.
const WrapperLegend = "WRAPPER: CONFIG_ARCH_HAS_SYSCALL_WRAPPER per matrix/kernel config/guest kallsyms/the LINUX_HAS_SYSCALL_WRAPPER " +
	"ksystest's probes loaded with, then each loader of users' collections (?: none resolved) · BTF: kernel's own, pahole (from the -dbg package) or file"

// caseNames lists every case of the run in catalogue order: cells run
// different subsets of the catalogue, each in its order, so a case first
// seen in a later cell goes right after the case it follows there.
func caseNames(r *result.Run) []string {
	var names []string
	for _, c := range r.Cells {
		prev := -1
		for _, cs := range c.Cases {
			i := slices.Index(names, cs.Name)
			if i < 0 {
				i = prev + 1
				names = slices.Insert(names, i, cs.Name)
			}
			prev = i
		}
	}
	return names
}

func verdictOf(c result.Cell, name string) (result.Verdict, bool) {
	for _, cs := range c.Cases {
		if cs.Name == name {
			if notRun(c, cs) {
				return verdictNotRun, true
			}
			return cs.Verdict, true
		}
	}
	return "", false
}

// verdictNotRun labels, in the reports only, a case that is no verdict.
const verdictNotRun result.Verdict = "not run"

// notRun says that a case's verdict says nothing: the host or the
// configuration stopped its target before it ran.
func notRun(c result.Cell, cs result.Case) bool {
	return cs.NotRun && c.Outcome.SaysNothing()
}

// Table writes the terminal report.
func Table(w io.Writer, r *result.Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "TARGET\tKERNEL\tWRAPPER\tBTF\tORACLE\tACCEL\tOUTCOME\tAGENT\tDONE\tEXIT\n")
	for _, c := range r.Cells {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Target, orDash(kernelLabel(c.Kernel)), wrapperLabel(c),
			btfLabel(c.Kernel.BTF), oracleLabel(c), orDash(c.Accel), c.Outcome, dur(c.Timings.AgentStartSec), dur(c.Timings.DoneSec), dur(c.Timings.ExitSec))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CASE")
	for _, c := range r.Cells {
		fmt.Fprintf(tw, "\t%s", c.Target)
	}
	fmt.Fprintln(tw)
	for _, name := range caseNames(r) {
		fmt.Fprintf(tw, "%s", name)
		for _, c := range r.Cells {
			v, ok := verdictOf(c, name)
			if !ok {
				fmt.Fprintf(tw, "\t-")
				continue
			}
			fmt.Fprintf(tw, "\t%s", label(v))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "(%s)\n(%s)\n", Legend, WrapperLegend)

	if quirks := quirksOf(r); len(quirks) > 0 {
		fmt.Fprintln(w)
		writeQuirkTable(w, quirks, archesOf(r))
	}
	writeLoaderNotes(w, r, "  ")
	writeLabelNotices(w, r, "  ")
	writeWarnings(w, r, "  | ")
	for _, c := range r.Cells {
		writeEvidence(w, c)
	}
	fmt.Fprintf(w, "\n%s in %.1fs\n", summary(r), r.WallSec)
	return nil
}

// writeLoaderNotes says where the loader did not resolve
// LINUX_HAS_SYSCALL_WRAPPER itself (ksystest resolved it from the guest's
// kallsyms), or resolved it against the kernel: both are findings about
// the loader that every user of BPF_KSYSCALL on that kernel meets.
func writeLoaderNotes(w io.Writer, r *result.Run, indent string) {
	var lines []string
	for _, c := range r.Cells {
		wr := c.Wrapper
		if wr == nil {
			continue
		}
		if strings.HasPrefix(wr.ResolvedBy, "ksystest") {
			lines = append(lines, fmt.Sprintf("%s%s: LINUX_HAS_SYSCALL_WRAPPER resolved by %s", indent, c.Target, wr.ResolvedBy))
		}
		if wr.LoaderWrong {
			lines = append(lines, fmt.Sprintf("%s%s: the loader's LINUX_HAS_SYSCALL_WRAPPER is wrong for this kernel, as predicted: %s", indent, c.Target, wr.Note))
		}
		for _, l := range userLoaders(c) {
			switch {
			case l.refused != "":
				first, _, _ := strings.Cut(l.refused, "\n")
				lines = append(lines, fmt.Sprintf("%s%s: %s did not load collection %s: %s", indent, c.Target, l.name, l.collection, first))
			case l.wrapper != nil && wr.Config != nil && *l.wrapper != *wr.Config:
				has := map[bool]string{true: "1, but the kernel has no syscall wrapper", false: "0, but the kernel has the syscall wrapper"}[*l.wrapper]
				lines = append(lines, fmt.Sprintf("%s%s: %s resolves LINUX_HAS_SYSCALL_WRAPPER to %s (CONFIG_ARCH_HAS_SYSCALL_WRAPPER): BPF_KSYSCALL reads the wrong pt_regs",
					indent, c.Target, l.name, has))
			}
		}
		for _, n := range c.Notes {
			lines = append(lines, fmt.Sprintf("%s%s: %s", indent, c.Target, n))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nloader notes:\n%s\n", strings.Join(lines, "\n"))
	}
}

// writeWarnings shows what the compiler said about users' collections,
// once per collection and text, with the targets it was said for:
// warnings are never silenced, and a warning is often the first sign of
// a bug on one arch.
func writeWarnings(w io.Writer, r *result.Run, indent string) {
	type said struct{ collection, text string }
	var order []said
	targets := map[said][]string{}
	for _, c := range r.Cells {
		for _, b := range c.Builds {
			if b.Warnings == "" {
				continue
			}
			k := said{b.Collection, b.Warnings}
			if _, ok := targets[k]; !ok {
				order = append(order, k)
			}
			targets[k] = append(targets[k], c.Target)
		}
	}
	for _, k := range order {
		fmt.Fprintf(w, "\nthe compiler warned about collection %s (%s):\n", k.collection, strings.Join(targets[k], ", "))
		for _, l := range strings.Split(k.text, "\n") {
			fmt.Fprintf(w, "%s%s\n", indent, l)
		}
	}
}

func quirksOf(r *result.Run) []result.QuirkRow {
	if r.Quirks != nil {
		return r.Quirks
	}
	return result.QuirkTable(r.Cells)
}

func archesOf(r *result.Run) []string {
	var arches []string
	seen := map[string]bool{}
	for _, c := range r.Cells {
		if !seen[c.Arch] {
			seen[c.Arch] = true
			arches = append(arches, c.Arch)
		}
	}
	return arches
}

// writeQuirkTable lists, per quirk, what each arch showed: one line for
// the naive probes, one for the aware ones.
func writeQuirkTable(w io.Writer, quirks []result.QuirkRow, arches []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "QUIRK\tPROBE")
	for _, a := range arches {
		fmt.Fprintf(tw, "\t%s", a)
	}
	fmt.Fprintln(tw)
	for _, q := range quirks {
		for i, role := range []string{"naive", "aware"} {
			name := ""
			if i == 0 {
				name = q.Quirk
			}
			fmt.Fprintf(tw, "%s\t%s", name, role)
			for _, a := range arches {
				cell, ok := q.Arches[a]
				text := "-"
				if ok && role == "naive" {
					text = orDash(cell.Naive)
				} else if ok {
					text = cell.Aware
				}
				fmt.Fprintf(tw, "\t%s", text)
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
}

// wrapperLabel sums up the sources on the syscall wrapper: matrix, kernel
// config, guest kallsyms and the value ksystest's probes were loaded with
// ("y/y/y/y"), followed by each user loader's LINUX_HAS_SYSCALL_WRAPPER
// where users' collections load ("cilium/ebpf:n libbpf-1.5:?": ? when the
// loader resolved none, having refused the collection), and DISAGREE when
// the kernel's own sources disagree with the matrix.
func wrapperLabel(c result.Cell) string {
	w := c.Wrapper
	if w == nil {
		return "-"
	}
	sources := fmt.Sprintf("%s/%s/%s/%s", yn(&w.Declared), yn(w.Config), yn(w.Guest), yn(w.Loader))
	for _, l := range userLoaders(c) {
		sources += " " + l.name + ":" + yn(l.wrapper)
	}
	if w.Agree {
		return sources
	}
	return sources + " DISAGREE"
}

func yn(b *bool) string {
	switch {
	case b == nil:
		return "?"
	case *b:
		return "y"
	}
	return "n"
}

// loaderWrapper is one user loader's LINUX_HAS_SYSCALL_WRAPPER on a cell.
type loaderWrapper struct {
	name    string
	wrapper *bool
	// refused is why the loader did not load a collection ("" when it
	// did).
	refused, collection string
}

// userLoaders are the loaders of a cell's users' collections, in the
// order they loaded, each once, with the value it resolved.
func userLoaders(c result.Cell) []loaderWrapper {
	var out []loaderWrapper
	seen := map[string]int{}
	for _, cl := range c.Collections {
		if cl.Loader == "" || cl.Name == "ksystest" {
			continue
		}
		i, ok := seen[cl.Loader]
		if !ok {
			i = len(out)
			seen[cl.Loader] = i
			out = append(out, loaderWrapper{name: cl.Loader})
		}
		if cl.Wrapper != nil && out[i].wrapper == nil {
			out[i].wrapper = ptr(*cl.Wrapper != 0)
		}
		if cl.Error != "" && out[i].refused == "" {
			out[i].refused, out[i].collection = cl.Error, cl.Name
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// oracleLabel counts the syscall tracepoint's statuses over a cell's
// cases: "18 agree, 3 n/a", or why it is unavailable.
func oracleLabel(c result.Cell) string {
	counts := map[string]int{}
	var order []string
	for _, cs := range c.Cases {
		if cs.Oracle == nil {
			continue
		}
		if counts[cs.Oracle.Status] == 0 {
			order = append(order, cs.Oracle.Status)
		}
		counts[cs.Oracle.Status]++
	}
	if len(order) == 0 {
		return "-"
	}
	var parts []string
	for _, st := range order {
		label := st
		if st == result.OracleAgrees {
			label = "agree"
		}
		parts = append(parts, fmt.Sprintf("%d %s", counts[st], label))
	}
	return strings.Join(parts, ", ")
}

func btfLabel(b *result.BTF) string {
	if b == nil {
		return "-"
	}
	return b.Source
}

func kernelLabel(k result.Kernel) string {
	if k.Version == "" {
		return k.Release
	}
	return k.Release + " (" + k.Version + ")"
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
			if !cs.Verdict.OK() {
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

// probeLabel names what captured a case: its probe and where it was
// attached, or the programs of its capture sets.
func probeLabel(cs result.Case) string {
	if w := cs.Workload; w != nil {
		var progs []string
		for _, p := range w.Probes {
			progs = append(progs, p.Program)
		}
		return fmt.Sprintf("workload %s, probes %s", w.Program, strings.Join(progs, ", "))
	}
	if cs.Probe != "" {
		return fmt.Sprintf("probe %s on %s", cs.Probe, orDash(cs.Attach))
	}
	var progs []string
	for _, s := range cs.Sets {
		if !slices.Contains(progs, s.Program) {
			progs = append(progs, s.Program)
		}
	}
	if len(progs) == 0 {
		return "nothing attached"
	}
	return "programs " + strings.Join(progs, ", ")
}

func writeCaseDiff(w io.Writer, cs result.Case) {
	fmt.Fprintf(w, "  case %s (%s): %s\n", cs.Name, probeLabel(cs), cs.Verdict)
	if cs.Workload != nil {
		if cs.Message != "" {
			fmt.Fprintf(w, "    %s\n", cs.Message)
		}
		writeWorkload(w, cs.Workload, false)
		return
	}
	if cs.Predicted != "" {
		fmt.Fprintf(w, "    predicted: %s\n", cs.Predicted)
	}
	if cs.Message != "" {
		fmt.Fprintf(w, "    %s\n", cs.Message)
	}
	if cs.Captures == 0 && len(cs.Sets) == 0 {
		return
	}
	writeArgs(w, cs)
}

// writeArgs lists a case's arguments side by side: passed, what the probe
// captured, and what the syscall tracepoint saw; then each capture set's
// readings.
func writeArgs(w io.Writer, cs result.Case) {
	defer writeSets(w, cs)
	if cs.Probe == "" {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "    ARG\tNAME\tKERNEL\tPASSED\tTRACEPOINT\n")
		for i, a := range cs.Args {
			fmt.Fprintf(tw, "    %d\t%s\t%s\t%#x\t%s\n", i+1, a.Name, kernelName(cs.Kernel, a.Name), a.Passed, captured(a.Tracepoint))
		}
		tw.Flush()
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    ARG\tNAME\tKERNEL\tEXPECTED\tCAPTURED\tTRACEPOINT\tRESULT\n")
	for i, a := range cs.Args {
		fmt.Fprintf(tw, "    %d\t%s\t%s\t%#x\t%s\t%s\t%s\n", i+1, a.Name, kernelName(cs.Kernel, a.Name), a.Passed,
			captured(a.Captured), captured(a.Tracepoint), argResult(a))
	}
	tw.Flush()
	for i, a := range cs.Args {
		if a.Effect != "" {
			fmt.Fprintf(w, "    effect on arg %d (%s): %s\n", i+1, a.Name, a.Effect)
		}
	}
	if o := cs.Oracle; o != nil && o.Status != result.OracleAgrees {
		fmt.Fprintf(tw, "    tracepoint: %s", o.Status)
		if o.Note != "" {
			fmt.Fprintf(tw, " (%s)", o.Note)
		}
		fmt.Fprintln(tw)
		tw.Flush()
	}
}

// writeSets lists each capture set: where every reading came from, what
// was expected of it, and what it held.
func writeSets(w io.Writer, cs result.Case) {
	for _, set := range cs.Sets {
		status := "ok"
		if !set.OK {
			status = "FAIL"
		}
		runs, word := "", "program"
		first, _, several := strings.Cut(set.Program, ", ")
		if several {
			word = "programs"
		}
		switch {
		case set.Runs != nil && several:
			runs = fmt.Sprintf("; %s ran %d time(s)", first, *set.Runs)
		case set.Runs != nil:
			runs = fmt.Sprintf(", ran %d time(s)", *set.Runs)
		}
		fmt.Fprintf(w, "    set %s (%s %s%s): %s\n", set.Name, word, set.Program, runs, status)
		if set.Message != "" && !set.OK {
			fmt.Fprintf(w, "      %s\n", set.Message)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "      ARG\tNAME\tFROM\tEXPECT\tPASSED\tCAPTURED\tRESULT\n")
		for i, a := range set.Args {
			fmt.Fprintf(tw, "      %d\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, a.Name, orDash(a.From), a.Expect, passedValue(a), capturedValue(a), argResult(a))
		}
		tw.Flush()
	}
}

// kernelName is the kernel's name for the parameter in the register that
// carried the argument called name, "-" when the kernel gave none.
func kernelName(k *result.KernelNames, name string) string {
	if k == nil || len(k.Names) != len(k.Catalogue) {
		return "-"
	}
	for j, n := range k.Catalogue {
		if n == name {
			return k.Names[j]
		}
	}
	return "-"
}

// kernelLine says where the kernel's parameter names come from, and
// whether the catalogue's agree.
func kernelLine(k *result.KernelNames) string {
	switch {
	case k == nil:
		return ""
	case !k.Agree:
		return "kernel: DISAGREES: " + k.Note
	case len(k.Names) == 0:
		return "kernel: " + orDash(k.Note)
	}
	line := fmt.Sprintf("kernel: (%s) from %s: agrees", strings.Join(k.Names, ", "), k.Source)
	if k.Note != "" {
		line += "; " + k.Note
	}
	return line
}

// labelNotice is what the names check noticed of a case without failing
// it: a label of the catalogue's that names no parameter of the kernel's.
// An agreeing check with the kernel's names says nothing else in Note,
// where expect marks it "notice: ".
func labelNotice(k *result.KernelNames) string {
	if k == nil || !k.Agree || len(k.Names) == 0 {
		return ""
	}
	return strings.TrimPrefix(k.Note, "notice: ")
}

// writeLabelNotices lists what the names check noticed, once per case and
// text, with the targets it was noticed on: a label the kernel does not
// use is no failure, but the reader should know the report's names are
// the catalogue's.
func writeLabelNotices(w io.Writer, r *result.Run, indent string) {
	type noticed struct{ name, text string }
	var order []noticed
	targets := map[noticed][]string{}
	for _, c := range r.Cells {
		for _, cs := range c.Cases {
			n := labelNotice(cs.Kernel)
			if n == "" {
				continue
			}
			k := noticed{cs.Name, n}
			if _, ok := targets[k]; !ok {
				order = append(order, k)
			}
			targets[k] = append(targets[k], c.Target)
		}
	}
	if len(order) == 0 {
		return
	}
	fmt.Fprintf(w, "\nlabel notices:\n")
	for _, k := range order {
		fmt.Fprintf(w, "%s%s (%s): %s\n", indent, k.name, strings.Join(targets[k], ", "), k.text)
	}
}

// Cases writes every case of every target with its arguments side by
// side (ksystest report --cases).
func Cases(w io.Writer, r *result.Run) error {
	for _, c := range r.Cells {
		fmt.Fprintf(w, "%s (%s): %s\n", c.Target, orDash(kernelLabel(c.Kernel)), c.Outcome)
		for _, cs := range c.Cases {
			v := cs.Verdict
			if notRun(c, cs) {
				v = verdictNotRun
			}
			fmt.Fprintf(w, "  %s: %s (%s)\n", cs.Name, v, probeLabel(cs))
			if cs.Predicted != "" {
				fmt.Fprintf(w, "    predicted: %s\n", cs.Predicted)
			}
			if cs.Message != "" {
				fmt.Fprintf(w, "    %s\n", cs.Message)
			}
			if cs.Workload != nil {
				writeWorkload(w, cs.Workload, true)
				continue
			}
			if l := kernelLine(cs.Kernel); l != "" {
				fmt.Fprintf(w, "    %s\n", l)
			}
			writeArgs(w, cs)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// passedValue is what was passed for an argument: what it pointed to,
// where the reading is a copy of that, else its value.
func passedValue(a result.Arg) string {
	if a.PassedContent != "" {
		return a.PassedContent
	}
	return fmt.Sprintf("%#x", a.Passed)
}

// capturedValue is what a reading held: the content it copied, or its
// value.
func capturedValue(a result.Arg) string {
	if a.PassedContent != "" {
		return orDash(a.CapturedContent)
	}
	return captured(a.Captured)
}

func argResult(a result.Arg) string {
	switch {
	case a.Expect == "ignore":
		return "ignored"
	case a.Truncated:
		return "TRUNCATED: " + strings.TrimPrefix(a.Note, "truncated: ")
	case a.OK && a.Expect == "differ":
		return "ok: differs, as expected"
	case !a.OK && a.Note != "":
		return "MISMATCH: " + a.Note
	case !a.OK:
		return "MISMATCH"
	}
	return "ok"
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
		result.OutcomeTimeout, result.OutcomeBootError, result.OutcomeConfigError, result.OutcomeInfraError} {
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

// writeWorkload shows a workload case: each run of the program, each
// probe's counts, and the calls that were not a plain match with their
// per-argument diff (explained ones too when all is set).
func writeWorkload(w io.Writer, wl *result.Workload, all bool) {
	for i, run := range wl.Runs {
		status := fmt.Sprintf("exit %d", run.Exit)
		if run.Signal != "" {
			status = "killed by " + run.Signal
		}
		if run.Error != "" {
			status += ": " + run.Error
		}
		fmt.Fprintf(w, "    run %d (%s): %s\n", i+1, strings.Join(run.Probes, ", "), status)
		if run.Exit != 0 || run.Signal != "" || run.Error != "" {
			for _, l := range strings.Split(strings.TrimSpace(run.Stderr), "\n") {
				if l != "" {
					fmt.Fprintf(w, "      stderr | %s\n", l)
				}
			}
		}
	}
	for _, s := range wl.Skipped {
		fmt.Fprintf(w, "    not checked: %s\n", s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    PROBE\tSYSCALL\tFORMS\tMADE\tCAPTURED\tMATCHING\tEXPLAINED\tWRONG\n")
	for _, p := range wl.Probes {
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", p.Program, p.Syscall, strings.Join(p.Forms, ", "),
			p.Made, p.Captured, p.Matching, p.Explained, p.Wrong)
	}
	s := wl.Summary
	fmt.Fprintf(tw, "    all\t\t\t%d\t%d\t%d\t%d\t%d\n", s.Made, s.Captured, s.Matching, s.Explained, s.Wrong)
	tw.Flush()
	for _, p := range wl.Probes {
		if p.Error != "" && (all || p.Wrong > 0) {
			fmt.Fprintf(w, "    %s: %s\n", p.Program, firstLine(p.Error))
		}
	}
	for _, c := range wl.Calls {
		if c.Verdict != result.CallWrong && !all {
			continue
		}
		fmt.Fprintf(w, "    call (probe %s, thread %d, nr %d, %s): %s: %s\n", c.Program, c.TID, c.NR, c.Form, c.Verdict, c.Note)
		if len(c.Args) == 0 {
			continue
		}
		if c.Args[0].Captured == nil {
			var vals []string
			for _, a := range c.Args {
				v := fmt.Sprintf("0x%x", a.Passed)
				if a.Note != "" {
					v = "?"
				}
				vals = append(vals, a.Name+"="+v)
			}
			fmt.Fprintf(w, "      tracepoint: %s\n", strings.Join(vals, " "))
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "      ARG\tNAME\tTRACEPOINT\tPROBE\tRESULT\n")
		for i, a := range c.Args {
			res := "ok"
			switch {
			case a.Expect == "ignore":
				res = "not compared"
			case !a.OK && c.Verdict == result.CallExplained:
				res = "as predicted"
			case !a.OK:
				res = "MISMATCH"
			}
			tp := fmt.Sprintf("0x%x", a.Passed)
			if a.Note != "" {
				tp = "?"
			}
			fmt.Fprintf(tw, "      %d\t%s\t%s\t%s\t%s\n", i+1, a.Name, tp, captured(a.Captured), res)
		}
		tw.Flush()
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
