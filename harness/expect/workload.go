package expect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
)

// notRecorded marks a value the tracepoint's record does not hold (the
// sockaddr behind a socketcall array).
const notRecorded = "not in the tracepoint's record"

// notRead marks an argument a record holds no number for and no content
// the tracepoint copied to compare with.
const notRead = "no number in the record, and no copy of the tracepoint's to compare with"

// callsShown bounds how many calls per probe the result keeps beyond the
// counts: enough to see what went wrong, not every call of a busy program.
const callsShown = 4

// workloadCase judges a workload case: every watched call the program's
// threads made must be what its probe reported, as the tracepoint saw it
// (decoded for the form it took), or be explained by the probe's
// predicted quirk on this arch. Nothing else passes: a program that
// failed, a call reported twice, a report with no call before it, records
// lost, or a run that made no watched call at all.
func workloadCase(def matrix.Planned, archName string, got proto.CaseResult) result.Case {
	c := result.Case{Name: def.Name, Verdict: result.Fail, Kernel: kernelNames(def)}
	w := &result.Workload{Program: def.CaseDef.Workload.Program}
	if w.Program == "" {
		w.Program = matrix.WorkloadPath(def.CaseDef)
	}
	c.Workload = w
	pw := def.Workload
	switch {
	case pw == nil && def.WorkloadErr != nil:
		c.Message = def.WorkloadErr.Error()
		return c
	case pw == nil:
		c.Message = "not planned"
		return c
	}
	w.Skipped = pw.Skipped
	t := newWorkloadTally(w, pw)
	t.narrow, t.archName = registerBytes(archName, false) == 4, archName
	refused := def.Pred != nil && def.Pred.Refused
	switch {
	case got.Error != "":
		c.Message = got.Error
		return c
	case got.LoadError != "" && refused:
		line, _, _ := strings.Cut(got.LoadError, "\n")
		c.Verdict, c.Message = result.QuirkConfirmed, "refused, as declared: "+line
		return c
	case got.LoadError != "":
		c.Message = got.LoadError
		return c
	case refused && attachRefusal(got.Workload) != "":
		// The loader loaded the collection but would not attach it (a
		// ksyscall/ section to a function this kernel lacks).
		c.Verdict, c.Message = result.QuirkConfirmed, "refused, as declared: "+attachRefusal(got.Workload)
		return c
	case refused:
		c.Message = fmt.Sprintf("declared that %s, but it loaded and attached", def.Pred)
		return c
	case got.Workload == nil:
		c.Message = "the agent reported no workload result"
		return c
	}
	if len(got.Workload.Rounds) != len(pw.Rounds) {
		t.problem("%d runs reported for %d rounds of probes", len(got.Workload.Rounds), len(pw.Rounds))
	}
	for i, round := range got.Workload.Rounds {
		t.round(i, round)
	}
	t.summarize()
	s := w.Summary
	if q := pw.Quirk; q != nil && s.Made > 0 && s.Explained == 0 {
		// As in a case: a quirk that no longer shows must be heard.
		t.problem("predicted here: %q (%s), but no call showed it: the quirk no longer appears", q.String(), q.Why)
	}
	c.Message = fmt.Sprintf("%d calls made, %d captured, %d matching, %d explained by a predicted quirk, %d wrong",
		s.Made, s.Captured, s.Matching, s.Explained, s.Wrong)
	if len(t.problems) > 0 {
		c.Message = strings.Join(t.problems, "; ") + " (" + c.Message + ")"
		return c
	}
	c.Verdict = result.Pass
	if s.Explained == s.Made {
		// Every call went wrong, each as predicted: what the table says
		// of a case whose probe did.
		c.Verdict = result.QuirkConfirmed
	}
	return c
}

// attachRefusal is the first program's error of the first run in which a
// program did not attach ("" when every one attached).
func attachRefusal(w *proto.WorkloadResult) string {
	if w == nil {
		return ""
	}
	for _, r := range w.Rounds {
		for _, prog := range slices.Sorted(maps.Keys(r.Errors)) {
			return prog + ": " + firstLine(r.Errors[prog])
		}
	}
	return ""
}

// workloadTally counts a workload's calls, per probe, as its rounds are
// judged, and keeps what is wrong with them.
type workloadTally struct {
	w        *result.Workload
	pw       *matrix.PlannedWorkload
	probes   map[string]*result.WorkloadProbe
	shown    map[string]int
	problems []string
	// narrow: the program's registers are 32 bits (what the tracepoint
	// records of a signed field's argument).
	narrow   bool
	archName string
}

func newWorkloadTally(w *result.Workload, pw *matrix.PlannedWorkload) *workloadTally {
	t := &workloadTally{w: w, pw: pw, probes: map[string]*result.WorkloadProbe{}, shown: map[string]int{}}
	for _, pp := range pw.Probes {
		wp := &result.WorkloadProbe{Program: pp.Program, Syscall: pp.Case.Syscall}
		for _, f := range pp.Forms {
			wp.Forms = append(wp.Forms, fmt.Sprintf("%s (nr %d, %s)", strings.TrimPrefix(f.Entry, "sys_"), f.NR, f.Kind))
		}
		if pp.Never != nil {
			wp.Quirk, wp.Predicted = pp.Never.Quirk, pp.Never.Pred.String()
		}
		t.probes[pp.Program] = wp
		w.Probes = append(w.Probes, *wp)
	}
	return t
}

func (t *workloadTally) problem(format string, args ...any) {
	t.problems = append(t.problems, fmt.Sprintf(format, args...))
}

// round judges run i of the program: how it ended, and each watched call
// it made.
func (t *workloadTally) round(i int, round proto.WorkloadRound) {
	run := result.WorkloadRun{Exit: round.Exit, Signal: round.Signal, Stdout: round.Stdout, Stderr: round.Stderr,
		Error: round.Error, Lost: round.Lost, Orphans: len(round.Orphans)}
	if i < len(t.pw.Rounds) {
		for _, p := range t.pw.Rounds[i] {
			run.Probes = append(run.Probes, p.Program)
		}
	}
	t.w.Runs = append(t.w.Runs, run)
	switch {
	case round.Error != "":
		t.problem("run %d: %s", i+1, round.Error)
	case round.Signal != "":
		t.problem("run %d: the program was killed by %s", i+1, round.Signal)
	case round.Exit != 0:
		t.problem("run %d: the program exited %d: %s", i+1, round.Exit, lastLine(round.Stderr))
	}
	if round.Lost > 0 {
		t.problem("run %d: %d records lost (more calls than ksystest keeps)", i+1, round.Lost)
	}
	if len(round.Orphans) > 0 {
		t.problem("run %d: %d probe reports with no recorded call before them on their thread, first %s",
			i+1, len(round.Orphans), hexes(round.Orphans[0]))
	}
	if round.LoadError != "" {
		t.problem("run %d: the collection did not load: %s", i+1, firstLine(round.LoadError))
	}
	for prog, msg := range round.Errors {
		if wp := t.probes[prog]; wp != nil && wp.Error == "" {
			wp.Error = msg
		}
	}
	var ties []*recordTie
	if i < len(t.pw.Rounds) {
		ties = t.tieRecords(i, t.pw.Rounds[i], &round)
	}
	for j, call := range round.Calls {
		var tie *recordTie
		if j < len(ties) {
			tie = ties[j]
		}
		t.call(call, round.Errors, tie)
	}
}

// tieRecords puts the records each program of a user's collection wrote
// in run i on the calls they are of: the k-th record of a thread (the
// set's tid field) is that of its k-th call the program watches; with a
// pid field or neither, of the program's k-th call. It returns, per call,
// the record's content and the arguments it holds no number for, and
// counts records tied to no call as problems.
func (t *workloadTally) tieRecords(i int, probes []proto.WorkloadProbe, round *proto.WorkloadRound) []*recordTie {
	ties := make([]*recordTie, len(round.Calls))
	round.Calls = slices.Clone(round.Calls) // the agent's result stays as it was
	for _, p := range probes {
		if p.Set == nil {
			continue
		}
		pp, ok := plannedProbe(t.pw, p.Program)
		if !ok {
			continue
		}
		k := slices.IndexFunc(round.Sets, func(s proto.WorkloadSet) bool { return s.Program == p.Program })
		if k < 0 {
			t.problem("run %d: no records of %s reported", i+1, p.Program)
			continue
		}
		set := round.Sets[k]
		if set.Error != "" {
			t.problem("run %d: records of %s not read: %s", i+1, p.Program, set.Error)
		}
		if set.Lost > 0 {
			t.problem("run %d: %d records of %s lost", i+1, set.Lost, p.Program)
		}
		for j, f := range set.Fields {
			if f.Error != "" && j < len(pp.Case.Expect) && pp.Case.Expect[j] != matrix.ExpectIgnore {
				t.problem("arg %d of %s: %s", j+1, p.Program, f.Error)
			}
		}
		// The calls each record may be of, in order, by thread (or all).
		queue := map[uint64][]int{}
		for j, call := range round.Calls {
			if call.Program != p.Program {
				continue
			}
			key := uint64(0)
			if p.Set.TID != "" {
				key = uint64(call.TID)
			}
			queue[key] = append(queue[key], j)
		}
		untied := 0
		for _, rec := range set.Records {
			key := uint64(0)
			switch {
			case p.Set.TID != "" && rec.Thread != nil:
				key = *rec.Thread
			case p.Set.TID != "":
				untied++
				continue
			case p.Set.PID != "" && round.PID != 0 && (rec.Thread == nil || *rec.Thread != uint64(round.PID)):
				untied++ // another process's
				continue
			}
			q := queue[key]
			if len(q) == 0 {
				untied++
				continue
			}
			j := q[0]
			queue[key] = q[1:]
			row, u := t.recordRow(pp, set.Fields, rec)
			round.Calls[j].Captured = append(round.Calls[j].Captured, row)
			ties[j] = &recordTie{unread: u, fields: set.Fields, bytes: rec.Bytes, bo: byteOrder(t.archName)}
		}
		if untied > 0 {
			t.problem("run %d: %d record(s) of %s tied to no call the program made", i+1, untied, p.Program)
		}
	}
	return ties
}

// recordTie is what the record tied to a call holds besides numbers: per
// argument, whether it holds no number (unread), and the content fields'
// bytes, in the guest's byte order bo.
type recordTie struct {
	unread []bool
	fields []proto.Field
	bytes  [][]byte
	bo     binary.ByteOrder
}

// content compares the record's content field for argument i with what
// the tracepoint copied of register reg at the call's entry, and says
// false when there is nothing to compare.
func (rt *recordTie) content(a *result.Arg, i int, kind string, reg int, call proto.WorkloadCall) bool {
	if rt == nil || kind == "" || reg < 0 || i >= len(rt.fields) || i >= len(rt.bytes) || !rt.fields[i].Content || rt.bytes[i] == nil {
		return false
	}
	k := slices.IndexFunc(call.Contents, func(c proto.Content) bool { return int(c.Arg) == reg })
	if k < 0 {
		return false
	}
	c := call.Contents[k]
	if c.Err != 0 {
		// Nothing to compare with: not the tool's fault. BPF programs
		// read user memory without faulting pages in (EFAULT where the
		// call's own copy, later, would fault the page in).
		a.OK = true
		if a.Expect != matrix.ExpectIgnore {
			a.Expect = matrix.ExpectIgnore
			a.Note = fmt.Sprintf("not compared: the tracepoint could not read what register %d points to at the call's entry (error %d)", reg+1, c.Err)
		}
		return true
	}
	passed, cut := c.Data, false
	if kind == proto.ContentString {
		// probe_read_user_str: the string and its NUL, cut short at
		// ContentMax bytes.
		cut = len(passed) >= proto.ContentMax
		passed = bytes.TrimSuffix(passed, []byte{0})
	}
	v := compareContent(kind, passed, rt.fields[i], rt.bytes[i], rt.bo)
	if !v.ok && cut && bytes.HasPrefix(rt.bytes[i], passed) {
		v.ok, v.truncated, v.note = true, false, fmt.Sprintf("the tracepoint copied the first %d bytes, which the field holds", len(passed))
	}
	a.PassedContent, a.CapturedContent = v.passed, v.captured
	switch a.Expect {
	case matrix.ExpectDiffer:
		a.OK = !v.ok
	case matrix.ExpectIgnore:
		a.OK = true
	default:
		a.OK, a.Truncated, a.Note = v.ok, v.truncated, v.note
	}
	return true
}

// recordRow is a record's numbers in the probe's argument order, and the
// arguments it holds no number for.
func (t *workloadTally) recordRow(pp matrix.PlannedProbe, fields []proto.Field, rec proto.Record) ([]uint64, []bool) {
	n := len(pp.Case.Args)
	row, unread := make([]uint64, n), make([]bool, n)
	for j := range row {
		if j >= len(rec.Values) || rec.Values[j] == nil {
			unread[j] = true
			continue
		}
		row[j] = *rec.Values[j]
		// As in a case: a 32-bit task's register holds 32 bits of a
		// signed field's value.
		if t.narrow && j < len(fields) && fields[j].Signed && fields[j].Size <= 4 {
			row[j] &= 0xffffffff
		}
	}
	return row, unread
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// call counts one watched call under its probe, and keeps a few of each
// verdict to show.
func (t *workloadTally) call(call proto.WorkloadCall, probeErrors map[string]string, tie *recordTie) {
	pp, ok := plannedProbe(t.pw, call.Program)
	if !ok {
		t.problem("a call (nr %d) reported for probe %q, which the workload does not have", call.NR, call.Program)
		return
	}
	wc, counted := judgeCall(pp, call, probeErrors[call.Program] != "", tie)
	if !counted {
		return
	}
	wp := t.probes[pp.Program]
	wp.Made++
	if len(call.Captured) > 0 {
		wp.Captured++
	}
	switch wc.Verdict {
	case result.CallMatch:
		wp.Matching++
		return
	case result.CallExplained:
		wp.Explained++
	default:
		wp.Wrong++
	}
	limit := callsShown
	if wc.Verdict == result.CallExplained {
		limit = 1 // one shows how; the counts say how many
	}
	if t.shown[pp.Program+wc.Verdict] < limit {
		t.shown[pp.Program+wc.Verdict]++
		t.w.Calls = append(t.w.Calls, wc)
	}
}

// summarize puts each probe's counts in the result, and their sums.
func (t *workloadTally) summarize() {
	w := t.w
	for i := range w.Probes {
		wp := t.probes[w.Probes[i].Program]
		w.Probes[i] = *wp
		w.Summary.Made += wp.Made
		w.Summary.Captured += wp.Captured
		w.Summary.Matching += wp.Matching
		w.Summary.Explained += wp.Explained
		w.Summary.Wrong += wp.Wrong
	}
	if w.Summary.Wrong > 0 {
		t.problem("%d of %d calls wrong", w.Summary.Wrong, w.Summary.Made)
	}
	if w.Summary.Made == 0 && len(t.problems) == 0 {
		t.problem("the program made none of the calls the probes watch")
	}
}

func plannedProbe(pw *matrix.PlannedWorkload, prog string) (matrix.PlannedProbe, bool) {
	for _, pp := range pw.Probes {
		if pp.Program == prog {
			return pp, true
		}
	}
	return matrix.PlannedProbe{}, false
}

// judgeCall compares one call with what its probe reported. counted is
// false for a call that is not one of the probe's syscall after all
// (socketcall of another socket call). tie is what a user's record tied
// to the call holds besides numbers: its content fields, compared with
// what the tracepoint copied.
func judgeCall(pp matrix.PlannedProbe, call proto.WorkloadCall, notAttached bool, tie *recordTie) (wc result.WorkloadCall, counted bool) {
	wc = result.WorkloadCall{Program: pp.Program, TID: call.TID, NR: call.NR}
	f, ok := pp.Form(call.NR)
	if !ok {
		wc.Verdict, wc.Note = result.CallWrong, fmt.Sprintf("nr %d is none of %s's forms", call.NR, pp.Case.Syscall)
		return wc, true
	}
	wc.Form = f.Kind
	want, known, params, counted := decodeCall(pp.Case, f, call)
	if !counted {
		return wc, false
	}
	// A user's record holds each argument in a field of the tool's own
	// type: both are compared as the kernel's parameter holds them (int
	// dfd = -100 is 0xffffff9c in the register a C program passes, and
	// -100 widened from the tool's int field).
	asParam := func(i int, v uint64) uint64 {
		if pp.Set < 0 || i >= len(params) {
			return v
		}
		return params[i].Of(v)
	}
	var got []uint64
	if len(call.Captured) > 0 {
		got = call.Captured[0]
	}
	pred := pp.Case.Pred
	// Under a prediction of wrong registers, a reading is compared with
	// what was passed (the prediction explains it when it differs): a
	// case's "differ" is about its own call, and a register that is not
	// the call's may still hold what a real program passed.
	wrongRegs := pred != nil && (pred.WrongRegs || pred.LoaderWrapper)
	for i, ad := range pp.Case.Args {
		a := result.Arg{Name: ad.Name, Expect: matrix.ExpectMatch}
		if i < len(pp.Case.Expect) && pp.Case.Expect[i] != "" && !(wrongRegs && pp.Case.Expect[i] == matrix.ExpectDiffer) {
			a.Expect = pp.Case.Expect[i]
		}
		a.Passed = asParam(i, want[i])
		unread := tie != nil && i < len(tie.unread) && tie.unread[i] && len(call.Captured) > 0
		switch {
		case unread && tie.content(&a, i, contentKind(ad.Value), f.Register(pp.Case, i), call):
			// A string or socket address, compared by content.
		case unread:
			a.OK = true
			if a.Expect != matrix.ExpectIgnore {
				a.Expect, a.Note = matrix.ExpectIgnore, notRead
				if contentKind(ad.Value) == proto.ContentString && pp.NoStrings != "" {
					a.Note = "not compared: the tracepoint copies no strings at a call's entry on this arch (" + pp.NoStrings + ")"
				}
			}
		default:
			if !known[i] {
				a.Expect, a.Note = matrix.ExpectIgnore, notRecorded
			}
			if i < len(got) {
				v := asParam(i, got[i])
				a.Captured = &v
				a.OK = a.Expect == matrix.ExpectIgnore || a.Expect == matrix.ExpectDiffer && v != a.Passed || a.Expect == matrix.ExpectMatch && v == a.Passed
			}
		}
		wc.Args = append(wc.Args, a)
	}

	switch {
	case len(call.Captured) == 0:
		// The probe cannot see a call that enters elsewhere than it
		// attaches, or when it did not attach at all: explained only
		// when its case predicts exactly that on this arch.
		elsewhere := f.Kind != matrix.FormDirect || f.Entry != "sys_"+pp.Case.Syscall
		// A probe case's never also explains a probe that did not attach
		// (it predicts that); a workload's own speaks of calls that enter
		// elsewhere only.
		own := pp.Never != nil && pp.Never.CaseDef.Workload != nil
		if pp.Never != nil && (elsewhere || notAttached && !own) {
			wc.Verdict = result.CallExplained
			where := fmt.Sprintf("it entered %s (nr %d)", f.Entry, f.NR)
			if notAttached {
				where = "the probe is not attached on this kernel"
			}
			wc.Note = fmt.Sprintf("not seen: %s, as case %s predicts (%s: %s)", where, pp.Never.Name, pp.Never.Pred.String(), pp.Never.Pred.Why)
			return wc, true
		}
		wc.Verdict, wc.Note = result.CallWrong, "not seen: the probe never reported this call"
		if f.Kind != matrix.FormDirect {
			wc.Note = fmt.Sprintf("not seen: the call went through %s (nr %d), and no quirk of %s predicts that", strings.TrimPrefix(f.Entry, "sys_"), f.NR, pp.Program)
		}
		return wc, true
	case len(call.Captured) > 1:
		wc.Verdict, wc.Note = result.CallWrong, fmt.Sprintf("reported %d times for one call", len(call.Captured))
		return wc, true
	}
	mismatch := ""
	for i, a := range wc.Args {
		switch {
		case a.OK:
			continue
		case a.PassedContent != "" || a.Captured == nil && a.Note != "":
			mismatch = fmt.Sprintf("arg %d (%s): %s", i+1, a.Name, a.Note)
		default:
			mismatch = fmt.Sprintf("arg %d (%s): tracepoint 0x%x, probe %s", i+1, a.Name, a.Passed, captured(a.Captured))
		}
		break
	}
	if mismatch == "" {
		wc.Verdict = result.CallMatch
		return wc, true
	}
	if pred != nil && predicted(*pred, wc.Args, got, call) {
		wc.Verdict = result.CallExplained
		wc.Note = fmt.Sprintf("as predicted (%s): %s", pred.String(), pred.Why)
		return wc, true
	}
	wc.Verdict, wc.Note = result.CallWrong, mismatch
	return wc, true
}

// predicted reports whether the probe's reading is the one its case
// predicts on this arch.
func predicted(p matrix.Prediction, args []result.Arg, got []uint64, call proto.WorkloadCall) bool {
	switch {
	case len(p.Swap) == 2:
		a, b := p.Swap[0]-1, p.Swap[1]-1
		if a >= len(args) || b >= len(args) || a >= len(got) || b >= len(got) {
			return false
		}
		for i, arg := range args {
			want := arg.Passed
			switch i {
			case a:
				want = args[b].Passed
			case b:
				want = args[a].Passed
			}
			if arg.Expect != matrix.ExpectIgnore && got[i] != want {
				return false
			}
		}
		return true
	case p.Pointer:
		return len(got) > 0 && len(call.Args) > 0 && got[0] == call.Args[0]
	case len(p.Regs) > 0:
		for i, r := range p.Regs {
			if i >= len(got) || r < 1 || r > len(call.Args) || got[i] != call.Args[r-1] {
				return false
			}
		}
		return true
	case p.WrongRegs, p.LoaderWrapper:
		// Registers that are not the call's: wrong in some argument the
		// probe reports (a reading right in every one is not the quirk).
		for _, a := range args {
			if a.Expect != matrix.ExpectIgnore && a.Captured != nil && *a.Captured != a.Passed || !a.OK && a.PassedContent != "" {
				return true
			}
		}
		return false
	}
	return false
}

// decodeCall reads the values the probe should report, in the case's
// argument order, from the tracepoint's record of the call in form f:
// the registers (in the kernel's order), the words of the struct or array
// they point to, or mmap2's offset in pages. known marks the values the
// record holds (a deref:N value of a call through memory it does not),
// params what the kernel's parameter keeps of each (a direct call's).
func decodeCall(pc matrix.Planned, f matrix.Form, call proto.WorkloadCall) (want []uint64, known []bool, params []matrix.Param, counted bool) {
	n := len(pc.Args)
	want, known, params = make([]uint64, n), make([]bool, n), make([]matrix.Param, n)
	var passed []int // indices of the arguments in registers
	for i, ad := range pc.Args {
		if !strings.HasPrefix(string(ad.Value), "deref:") {
			passed = append(passed, i)
		}
	}
	put := func(k int, v uint64) {
		if k < len(passed) {
			want[passed[k]], known[passed[k]] = v, true
		}
	}
	switch f.Kind {
	case matrix.FormDirect, matrix.FormPages:
		for reg := 0; reg < len(passed) && reg < len(call.Args); reg++ {
			k := reg
			if f.Order != nil && reg < len(f.Order) {
				k = f.Order[reg] - 1
			}
			put(k, call.Args[reg])
			if f.Kind == matrix.FormDirect && reg < len(f.Params) && k < len(passed) {
				params[passed[k]] = f.Params[reg]
			}
		}
		if f.Kind == matrix.FormPages && len(passed) == 6 && known[passed[5]] {
			want[passed[5]] <<= 12
		}
		if f.DerefFor >= 0 && f.DerefFor < n && len(call.Deref) > 0 {
			want[f.DerefFor], known[f.DerefFor] = call.Deref[0], true
		}
	case matrix.FormPacked:
		for k := 0; k < len(passed) && k < len(call.Deref); k++ {
			put(k, call.Deref[k])
		}
		if len(call.Deref) == 0 {
			// Every word read zero, or the read failed: nothing known.
			for k := range passed {
				put(k, 0)
				known[passed[k]] = false
			}
		}
	case matrix.FormSocketcall:
		if len(call.Args) == 0 || call.Args[0] != uint64(f.Sub) {
			return nil, nil, nil, false
		}
		for k := 0; k < len(passed) && k < len(call.Deref); k++ {
			put(k, call.Deref[k])
		}
	}
	return want, known, params, true
}

func hexes(vs []uint64) string {
	var s []string
	for _, v := range vs {
		s = append(s, fmt.Sprintf("0x%x", v))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "no output on stderr"
	}
	return s
}

func captured(v *uint64) string {
	if v == nil {
		return "nothing"
	}
	return fmt.Sprintf("0x%x", *v)
}
