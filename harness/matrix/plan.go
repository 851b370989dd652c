package matrix

import (
	"fmt"
	"slices"
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
}

// PlanTarget returns the cases of the catalogue that run on target (of
// arch a, booting the kernel k): Plan's, with each case of a user's
// collection once per loader of that collection (ForLoaders), and notes
// on what the target cannot run.
func (c *Catalogue) PlanTarget(target string, a arch.Arch, k sysparams.Kernel) ([]Planned, []string) {
	return c.ForLoaders(c.Plan(a, k), target, a)
}

// ForLoaders puts each case of a user's collection once per loader of the
// collection, named NAME@LOADER ("libbpf" becomes the newest libbpf
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
		col, ok := cols[p.Collection]
		if !ok || p.Workload != nil {
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
	args := cd.passedNames()
	p.Kernel = KernelCheck{Catalogue: sysparams.Names(args, p.Order), Agree: true}
	if slices.Contains(cd.Pack, a.Name) {
		p.Kernel.Note = "arguments passed in a struct (pack): no register names to check"
		return p
	}
	entry, err := entryOf(cd, a)
	if err != nil {
		p.Kernel.Note = err.Error()
		return p
	}
	params, ok, note := k.Lookup(entry)
	if !ok {
		p.Kernel.Note = note
		return p
	}
	p.Kernel.Params = &params
	derived, err := sysparams.Order(args, params)
	if err != nil {
		p.Kernel.Agree, p.Kernel.Note = false, err.Error()
		return p
	}
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

// entryOf is the kernel function the case's call enters, from the syscall
// table of the ABI making it: the native one, or the 32-bit one of a
// compat call, whose table names the compat entry point when it differs.
func entryOf(cd CaseDef, a arch.Arch) (string, error) {
	port := a.Go
	if cd.Compat && a.Compat != nil {
		port = *a.Compat
	}
	abi, ok := syscalls.ForGOARCH(port.GOARCH)
	if !ok {
		return "", fmt.Errorf("no syscall table for GOARCH %s", port.GOARCH)
	}
	sc, ok := syscalls.Lookup(abi, cd.Syscall)
	if !ok {
		return "", fmt.Errorf("the %s ABI has no syscall %q", abi, cd.Syscall)
	}
	if cd.Compat && sc.CompatEntry != "" {
		return sc.CompatEntry, nil
	}
	return sc.Entry, nil
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

// passedNames are the names of the arguments put in registers (deref:
// values are read back, not passed).
func (cd CaseDef) passedNames() []string {
	var names []string
	for _, a := range cd.Args {
		if !strings.HasPrefix(string(a.Value), "deref:") {
			names = append(names, a.Name)
		}
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
			pcap := proto.Capture{Name: c.Name, Program: c.Program, Emit: c.Emit}
			for _, ca := range c.Args {
				pcap.Args = append(pcap.Args, proto.CaptureArg{Global: ca.Global, Map: ca.Map, Key: string(ca.Key), Offset: ca.Offset, Size: ca.Size})
			}
			pc.Captures = append(pc.Captures, pcap)
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
		}
		out.Cases = append(out.Cases, pc)
	}
	return out
}
