package matrix

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/syscalls"
	"github.com/ksystest/ksystest/harness/sysparams"
)

// Planned is a case as it runs on one target: its definition, the
// register order its raw call uses there, the prediction for a naive
// probe there, and what the target's kernel says of the syscall's
// parameters. The host plans every case before booting, from the kernel's
// config and BTF, so the agent makes the call the kernel expects.
type Planned struct {
	CaseDef
	// Order is the register order of the raw call: register i gets
	// argument Order[i] (1-based); nil keeps the catalogue's order.
	Order []int
	// Pred is how a naive probe is predicted to go wrong on this target,
	// stated by the catalogue or derived from the kernel's order; nil
	// when it should capture every argument.
	Pred *Prediction
	// Kernel is the check of the catalogue's argument names against the
	// kernel's parameters.
	Kernel KernelCheck
	// Expect is, per argument, what is expected of the probe's capture
	// on this target (match, ignore or differ); SetExpect the same per
	// capture set.
	Expect    []string
	SetExpect [][]string
	// Workload is a workload case's plan; WorkloadErr why there is none.
	Workload    *PlannedWorkload
	WorkloadErr error
	// Loader loads the case's collection (a user's: one planned case per
	// loader, named NAME@LOADER; ksystest's own: empty).
	Loader string
}

// CollectionKey names the case's collection as its loader loads it.
func (p Planned) CollectionKey() string { return CollectionKey(p.Collection, p.Loader) }

// KernelCheck compares the catalogue's argument names, in register order,
// with the kernel's parameter names.
type KernelCheck struct {
	// Params are the kernel's; nil when the kernel gave none (Note says
	// why).
	Params *sysparams.Params
	// Catalogue is the catalogue's names in the register order used.
	Catalogue []string
	// Agree is false when the catalogue and the kernel disagree: the case
	// then fails as a catalogue error, whatever the probe captured.
	Agree bool
	Note  string
	// Notice says what the check noticed without failing the case: a
	// label of the catalogue's that names no parameter of the kernel's.
	Notice string
}

// PlanTarget returns the cases of the catalogue that run on target (of
// arch a, booting the kernel k): Plan's, with each case of a user's
// collection once per loader of that collection (ForLoaders), and notes
// on what the target cannot run.
func (c *Catalogue) PlanTarget(target string, a arch.Arch, k sysparams.Kernel) ([]Planned, []string) {
	return c.ForLoaders(c.Plan(a, k), target, a)
}

// ForLoaders puts each case of a user's collection (and each workload of
// its programs) once per loader of the collection, named NAME@LOADER ("libbpf" becomes the newest libbpf
// Debian ships for a); where the collection declares that the loader
// refuses it on target (LoadFails), the case is predicted not to load. A
// loader a cannot run (a libbpf Debian does not ship for it) runs nothing
// there, and a note says so.
func (c *Catalogue) ForLoaders(planned []Planned, target string, a arch.Arch) ([]Planned, []string) {
	cols := map[string]CollectionDef{}
	for _, col := range c.Collections {
		cols[col.Name] = col
	}
	var out []Planned
	var notes []string
	noted := map[string]bool{}
	for _, p := range planned {
		name := p.Collection
		if p.Workload != nil {
			name = p.Workload.Collection
		}
		col, ok := cols[name]
		if !ok {
			out = append(out, p)
			continue
		}
		for _, asked := range col.Loaders {
			l, runs := loaderOn(asked, a)
			if !runs {
				if key := col.Name + "|" + l; !noted[key] {
					noted[key] = true
					notes = append(notes, fmt.Sprintf("collection %s: Debian ships no %s for %s, so its cases are not run under it here", col.Name, l, a.Name))
				}
				continue
			}
			q := p
			q.Name, q.Loader = CollectionKey(p.Name, l), l
			if why, refused := col.refusal(l, target); refused {
				q.Pred = &Prediction{Refused: true, Why: l + " refuses it on " + target + ": " + why}
			}
			out = append(out, q)
		}
	}
	return out, notes
}

// Plan returns the cases of the catalogue that run on arch a, planned for
// the kernel k.
func (c *Catalogue) Plan(a arch.Arch, k sysparams.Kernel) []Planned {
	var out []Planned
	for _, cd := range c.For(a).Cases {
		if cd.Workload == nil {
			out = append(out, plan(cd, a, k))
		}
	}
	// Workload cases after the rest: their probes are described by the
	// others. They keep their place in the catalogue's order.
	var all []Planned
	i := 0
	for _, cd := range c.For(a).Cases {
		if cd.Workload == nil {
			all = append(all, out[i])
			i++
			continue
		}
		p := Planned{CaseDef: cd, Kernel: KernelCheck{Agree: true}}
		p.Workload, p.WorkloadErr = PlanWorkload(cd, a, out)
		all = append(all, p)
	}
	return all
}

func plan(cd CaseDef, a arch.Arch, k sysparams.Kernel) Planned {
	p := Planned{CaseDef: cd, Order: cd.Order[a.Name]}
	for _, ad := range cd.Args {
		p.Expect = append(p.Expect, ad.Expect.For(a.Name))
	}
	for _, c := range cd.Captures {
		var ex []string
		for _, ca := range c.Args {
			ex = append(ex, ca.Expect.For(a.Name))
		}
		p.SetExpect = append(p.SetExpect, ex)
	}
	if q, ok := cd.Quirks[a.Name]; ok {
		p.Pred = &q
	}
	call, callErr := callOf(cd, a)
	p.Args = nameArgs(cd, call)
	args := p.passedNames()
	p.Kernel = KernelCheck{Catalogue: sysparams.Names(args, p.Order), Agree: true}
	if slices.Contains(cd.Pack, a.Name) {
		p.Kernel.Note = "arguments passed in a struct (pack): no register names to check"
		return p
	}
	if callErr != nil {
		p.Kernel.Note = callErr.Error()
		return p
	}
	if k.Source == nil {
		k.Source = call.source
	}
	params, ok, note := k.Lookup(call.entry)
	if !ok {
		p.Kernel.Note = note
		return p
	}
	derived, unmatched, err := sysparams.Order(args, params)
	switch {
	case err != nil && cd.Via != proto.ViaRaw && cd.Via != proto.ViaEffects:
		// A library call passes the arguments its own way (Go's
		// syscall.Mmap packs them for s390x's old_mmap): not the
		// catalogue's registers to check.
		p.Kernel.Note = fmt.Sprintf("%s passes the arguments its own way here (the kernel's %s takes %d: %s): no register names to check",
			cd.Via, params.Source, len(params.Names), strings.Join(params.Names, ", "))
		return p
	case err != nil:
		p.Kernel.Params = &params
		p.Kernel.Agree, p.Kernel.Note = false, err.Error()
		return p
	}
	p.Kernel.Params = &params
	p.Kernel.Notice = labelNotice(cd, unmatched, derived, params)
	if p.Order != nil && !slices.Equal(p.Order, derived) {
		p.Kernel.Agree = false
		p.Kernel.Note = fmt.Sprintf("the catalogue's order on %s puts (%s) in the registers, but the kernel's %s is (%s)",
			a.Name, strings.Join(sysparams.Names(args, p.Order), ", "), params.Source, strings.Join(params.Names, ", "))
		return p
	}
	if cd.Via == proto.ViaRaw || cd.Via == proto.ViaEffects {
		p.Order = derived
		if sysparams.Identity(derived) {
			p.Order = nil
		}
	}
	p.Kernel.Catalogue = sysparams.Names(args, derived)
	if cd.Role == RoleNaive {
		p.Pred, p.Kernel.Agree, p.Kernel.Note = derivePrediction(p.Pred, derived, params, args)
	}
	return p
}

// labelNotice says which labels the catalogue wrote (cd as written)
// name no parameter of the kernel's, and which parameter each was taken
// as. A label is the catalogue's word, not the kernel's: it is checked
// where it names a parameter, and noticed, not failed, where it names
// none.
func labelNotice(cd CaseDef, unmatched, order []int, params sysparams.Params) string {
	passed := cd.passed()
	var notes []string
	for _, j := range unmatched {
		ad := cd.Args[passed[j]]
		if ad.Name == "" {
			continue // named by ksystest, from the source
		}
		taken := slices.Index(order, j+1)
		notes = append(notes, fmt.Sprintf("label %q (argument %d) names no parameter of the kernel's (%s) from %s: taken as %q",
			ad.Name, passed[j]+1, strings.Join(params.Names, ", "), params.Source, params.Names[taken]))
	}
	return strings.Join(notes, "; ")
}

// A call is the kernel entry point a case's call enters on one arch, and
// where the source table of its ABI has its parameters.
type call struct {
	abi, entry string
	compat     bool
}

// callOf is the kernel function the case's call enters, from the syscall
// table of the ABI making it: the native one, or the 32-bit one of a
// compat call, whose table names the compat entry point when it differs.
func callOf(cd CaseDef, a arch.Arch) (call, error) {
	port := a.Go
	compat := cd.Compat && a.Compat != nil
	if compat {
		port = *a.Compat
	}
	abi, ok := syscalls.ForGOARCH(port.GOARCH)
	if !ok {
		return call{}, fmt.Errorf("no syscall table for GOARCH %s", port.GOARCH)
	}
	sc, ok := syscalls.Lookup(abi, cd.Syscall)
	if !ok {
		return call{}, fmt.Errorf("the %s ABI has no syscall %q", abi, cd.Syscall)
	}
	c := call{abi: abi, entry: sc.Entry, compat: compat}
	if compat && sc.CompatEntry != "" {
		c.entry = sc.CompatEntry
	}
	return c, nil
}

// source is what the kernel source of ksystest's syscall tables defines
// for an entry point of the call's ABI (sysparams.Kernel.Source).
func (c call) source(entry string) (sysparams.Params, bool, string) {
	from := "kernel source " + syscalls.KernelVersion
	d, ok := syscalls.DefinitionOf(c.abi, entry, c.compat)
	switch {
	case !ok:
		return sysparams.Params{}, false, fmt.Sprintf("%s: the %s table has no %s", from, c.abi, entry)
	case d.Params == nil:
		return sysparams.Params{}, false, from + ": " + d.Missing
	}
	return sysparams.Params{Names: d.Names(), Source: from + " " + d.Where}, true, ""
}

// referenceABI is the ABI whose parameter order the catalogue writes
// arguments in (CaseDef.Args).
const referenceABI = "x86_64"

// nameArgs returns the case's arguments with a name for each the
// catalogue left unnamed: the kernel source's name for the parameter in
// its place, in the order the catalogue writes arguments (x86_64's
// syscall, so the register each goes in is still checked on every
// target); for a syscall x86_64 lacks, the target ABI's own. A deref
// argument is named after the argument it reads back ("*buf").
func nameArgs(cd CaseDef, c call) []ArgDef {
	if !slices.ContainsFunc(cd.Args, func(ad ArgDef) bool { return ad.Name == "" }) {
		return cd.Args
	}
	passed := cd.passed()
	var names []string
	if sc, ok := syscalls.Lookup(referenceABI, cd.Syscall); ok {
		if d, ok := syscalls.DefinitionOf(referenceABI, sc.Entry, false); ok && len(d.Params) == len(passed) {
			names = d.Names()
		}
	}
	if names == nil && c.entry != "" {
		if d, ok := syscalls.DefinitionOf(c.abi, c.entry, c.compat); ok {
			names = d.Names()
		}
	}
	args := slices.Clone(cd.Args)
	for j, i := range passed {
		if args[i].Name != "" {
			continue
		}
		args[i].Name = fmt.Sprintf("arg%d", i+1)
		if j < len(names) {
			args[i].Name = names[j]
		}
	}
	for i := range args {
		if n, ok := derefOf(args[i]); ok && args[i].Name == "" && n >= 1 && n <= len(args) {
			args[i].Name = "*" + args[n-1].Name
		}
	}
	return args
}

// derefOf reads a deref:N argument's N.
func derefOf(ad ArgDef) (int, bool) {
	rest, ok := strings.CutPrefix(string(ad.Value), "deref:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

// derivePrediction checks a naive case's stated prediction against the
// kernel's order. A probe written with the x86_64 signature reads register
// i as argument i; when the kernel puts argument j there, it sees j.
func derivePrediction(stated *Prediction, order []int, params sysparams.Params, args []string) (*Prediction, bool, string) {
	if stated != nil && len(stated.Swap) == 0 {
		return stated, true, "" // the probe does not see the registers this way
	}
	var moved []int
	for i, o := range order {
		if o != i+1 {
			moved = append(moved, i+1)
		}
	}
	var derived *Prediction
	switch len(moved) {
	case 0:
	case 2:
		derived = &Prediction{Swap: moved, Why: fmt.Sprintf("the kernel's %s: (%s)", params.Source, strings.Join(params.Names, ", "))}
	default:
		return stated, false, fmt.Sprintf("the kernel's %s (%s) moves %d arguments; ksystest predicts swaps of two only",
			params.Source, strings.Join(params.Names, ", "), len(moved))
	}
	switch {
	case stated == nil:
		return derived, true, ""
	case derived == nil:
		return stated, false, fmt.Sprintf("the catalogue predicts %s, but the kernel's %s (%s) keeps the catalogue's order",
			stated, params.Source, strings.Join(params.Names, ", "))
	case !slices.Equal(sorted(stated.Swap), derived.Swap):
		return stated, false, fmt.Sprintf("the catalogue predicts %s, but the kernel's %s (%s) implies %s",
			stated, params.Source, strings.Join(params.Names, ", "), derived)
	}
	return stated, true, ""
}

func sorted(xs []int) []int {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}

// passed are the indexes of the arguments put in registers (deref:
// values are read back, not passed).
func (cd CaseDef) passed() []int {
	var out []int
	for i, a := range cd.Args {
		if !strings.HasPrefix(string(a.Value), "deref:") {
			out = append(out, i)
		}
	}
	return out
}

// passedNames are the names of the arguments put in registers.
func (cd CaseDef) passedNames() []string {
	var names []string
	for _, i := range cd.passed() {
		names = append(names, cd.Args[i].Name)
	}
	return names
}

// ProtoOf is the catalogue as the agent reads it: the planned cases with
// their register order and packing on arch a.
func ProtoOf(a arch.Arch, planned []Planned) proto.Catalogue {
	out := proto.Catalogue{Version: proto.Version}
	for _, p := range planned {
		pc := proto.Case{
			Name: p.Name, Probe: p.Probe, Syscall: p.Syscall, Via: p.Via,
			Order: p.Order, Pack: slices.Contains(p.Pack, a.Name), Compat: p.Compat, AtEntry: p.AtEntry,
		}
		if p.Collection != proto.Builtin {
			pc.Collection = p.CollectionKey()
		}
		for _, c := range p.Captures {
			pc.Captures = append(pc.Captures, c.proto())
		}
		for _, ad := range p.Args {
			pc.Args = append(pc.Args, proto.Arg{Name: ad.Name, Value: string(ad.Value)})
		}
		if w := p.Workload; w != nil {
			timeout := time.Duration(p.CaseDef.Workload.Timeout)
			if timeout == 0 {
				timeout = DefaultWorkloadTimeout
			}
			pc.Probe, pc.Syscall, pc.Via = "", "", ""
			pc.Workload = &proto.Workload{Path: WorkloadPath(p.CaseDef), Args: p.CaseDef.Workload.Args,
				TimeoutSec: int(timeout.Seconds()), Rounds: w.Rounds, Watch: w.Watch}
			if w.Collection != "" {
				pc.Workload.Collection = CollectionKey(w.Collection, p.Loader)
			}
		}
		out.Cases = append(out.Cases, pc)
	}
	return out
}
