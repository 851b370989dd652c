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
)

// WorkloadDef makes a case a workload case: a real program runs in the
// guest with probes attached, and every call its threads make to a
// syscall a probe watches must be what the probe reports, argument by
// argument, as the raw_syscalls/sys_enter tracepoint saw it. No expected
// value is written by hand.
type WorkloadDef struct {
	// Program is a workload ksystest carries (WorkloadPrograms), or empty
	// when Objects gives the program per arch.
	Program string `yaml:"program"`
	// Objects are static programs per arch, relative to the file.
	Objects map[string]string `yaml:"objects"`
	Args    []string          `yaml:"args"`
	// Probes are ring-buffer probes of ksystest's collection, or programs
	// of one user's collection that write records to its own ring buffer
	// or perf event array, each named by its program: the case of the
	// catalogue that uses it (its probe, or the program of one of its
	// capture sets that reads records) says which syscall it watches,
	// which arguments it reports and how it is predicted to go wrong on
	// each arch.
	Probes  []string `yaml:"probes"`
	Timeout Duration `yaml:"timeout"`
	// Dir is the directory of the file declaring it.
	Dir string `yaml:"-"`
}

// WorkloadPrograms are the workload programs ksystest carries: a static C
// client (open, write, mmap, a TCP connection on loopback, fork, a
// thread) and a Go net/http client against a server in the same guest.
var WorkloadPrograms = []string{"client", "httpget"}

// DefaultWorkloadTimeout bounds one run of a workload's program.
const DefaultWorkloadTimeout = 60 * time.Second

// WorkloadPath is where a workload case's program is in the guest.
func WorkloadPath(cd CaseDef) string {
	if cd.Workload.Program != "" {
		return proto.WorkloadsDir + "/" + cd.Workload.Program
	}
	return proto.WorkloadsDir + "/" + cd.Name
}

// ObjectPath is the workload's program for arch a, resolved ("" when it
// has none).
func (w WorkloadDef) ObjectPath(a string) string {
	p, ok := w.Objects[a]
	if !ok {
		return ""
	}
	if p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	return w.Dir + "/" + p
}

func validateWorkload(p string, cd CaseDef, add func(path, format string, args ...any)) {
	w := cd.Workload
	if cd.Probe != "" || cd.Syscall != "" || len(cd.Args) > 0 || len(cd.Captures) > 0 || cd.Via != "" && cd.Via != proto.ViaRaw {
		add(p, "a workload case has no probe, syscall, args, captures or via of its own: its probes and the calls they watch come from the workload")
	}
	if (w.Program == "") == (len(w.Objects) == 0) {
		add(p+".workload", "give program (one of %s) or objects (a static program per arch)", strings.Join(WorkloadPrograms, ", "))
	}
	if w.Program != "" && !slices.Contains(WorkloadPrograms, w.Program) {
		add(p+".workload.program", "%q: ksystest carries %s; give a program of your own per arch with objects", w.Program, strings.Join(WorkloadPrograms, ", "))
	}
	for a := range w.Objects {
		if _, err := arch.Lookup(a); err != nil {
			add(p+".workload.objects", "%v", err)
		}
	}
	if len(w.Probes) == 0 {
		add(p+".workload.probes", "missing: name the probes to check against the program's calls")
	}
	for i, pr := range w.Probes {
		if !identRE.MatchString(pr) {
			add(fmt.Sprintf("%s.workload.probes[%d]", p, i), "%q is not a BPF program name", pr)
		}
	}
	if w.Timeout < 0 {
		add(p+".workload.timeout", "negative")
	}
	for a, q := range cd.Quirks {
		qp := p + ".quirks." + a
		if _, err := arch.Lookup(a); err != nil {
			add(qp, "%v", err)
		}
		if q.Never == q.WrongRegs || len(q.Swap) > 0 || q.Pointer || len(q.Regs) > 0 || q.NoLoad {
			add(qp, "a workload's probes are predicted per arch with one of never (they do not see calls that enter elsewhere, as through socketcall) or wrongRegs (they read registers that are not the call's)")
		}
		if strings.TrimSpace(q.Why) == "" {
			add(qp+".why", "missing: say why the probes go wrong there (the report shows it with every call it explains)")
		}
	}
}

// Form is one way a call to a syscall reaches the kernel on an ABI, and
// how the values a probe reports (in the syscall's x86_64 order) are
// read from what the tracepoint records for it.
type Form struct {
	NR int64
	// Entry is the kernel function the number enters (sys_socketcall).
	Entry string
	Kind  string
	// Order (FormDirect): register i carries argument Order[i] (1-based);
	// nil: the arguments' own order.
	Order []int
	// Sub is socketcall's call number (FormSocketcall).
	Sub int
	// Deref is what the tracepoint reads through for this number.
	Deref proto.Watch
	// DerefFor is the argument (0-based, in the probe's order) whose
	// value is Deref's first word: a deref:N argument of a direct call.
	DerefFor int
	// Params are, per register, what the kernel's parameter keeps of it
	// (a direct call's, from the kernel source's definition; nil: not
	// known).
	Params []Param
}

// Param is what a kernel function's parameter keeps of the register that
// carries it: its C type's size in bytes and sign (int dfd: the low 4
// bytes, signed, whatever the upper half of the register holds). Size 0:
// not known, the register whole.
type Param struct {
	Size   uint8
	Signed bool
}

// Of is v as the parameter holds it, widened to 64 bits with its sign.
func (p Param) Of(v uint64) uint64 {
	if p.Size == 0 || p.Size >= 8 {
		return v
	}
	bits := 8 * uint(p.Size)
	v &= 1<<bits - 1
	if p.Signed && v&(1<<(bits-1)) != 0 {
		v |= ^uint64(0) << bits
	}
	return v
}

// paramOf is what a parameter of C type t (as the kernel source spells
// it) keeps of a register, ws the ABI's long.
func paramOf(t string, ws uint8) Param {
	if strings.Contains(t, "*") {
		return Param{Size: ws}
	}
	t = strings.TrimSpace(strings.TrimPrefix(t, "const "))
	switch t {
	case "int", "pid_t", "clockid_t", "timer_t", "mqd_t", "key_t", "key_serial_t", "rwf_t", "s32", "__s32":
		return Param{Size: 4, Signed: true}
	case "unsigned int", "unsigned", "u32", "__u32", "uid_t", "gid_t", "qid_t":
		return Param{Size: 4}
	case "umode_t", "u16", "__u16":
		return Param{Size: 2}
	case "long", "off_t":
		return Param{Size: ws, Signed: true}
	case "unsigned long", "size_t", "aio_context_t":
		return Param{Size: ws}
	case "u64", "__u64":
		return Param{Size: 8}
	case "loff_t", "s64", "__s64":
		return Param{Size: 8, Signed: true}
	}
	return Param{}
}

// paramsOf are what entry's parameters keep of each register on abi.
func paramsOf(abi, entry string, ws uint8) []Param {
	d, ok := syscalls.DefinitionOf(abi, entry, false)
	if !ok || d.Params == nil {
		return nil
	}
	var out []Param
	for _, p := range d.Params {
		out = append(out, paramOf(p.Type, ws))
	}
	return out
}

// Form kinds.
const (
	// FormDirect: the syscall's own number, its arguments in registers.
	FormDirect = "direct"
	// FormPacked: one pointer to the six arguments in user memory
	// (old_mmap: s390x's and i386's mmap).
	FormPacked = "packed"
	// FormPages: mmap2, the offset in 4096-byte pages.
	FormPages = "pages"
	// FormSocketcall: socketcall(call, args*) for a socket syscall.
	FormSocketcall = "socketcall"
)

// socketcalls are socketcall's call numbers (include/uapi/linux/net.h),
// with how many arguments the array holds.
var socketcalls = map[string][2]int{
	"socket": {1, 3}, "bind": {2, 3}, "connect": {3, 3}, "listen": {4, 2}, "accept": {5, 3},
	"getsockname": {6, 3}, "getpeername": {7, 3}, "socketpair": {8, 4}, "send": {9, 4}, "recv": {10, 4},
	"sendto": {11, 6}, "recvfrom": {12, 6}, "shutdown": {13, 2}, "setsockopt": {14, 5}, "getsockopt": {15, 5},
	"sendmsg": {16, 3}, "recvmsg": {17, 3}, "accept4": {18, 4}, "recvmmsg": {19, 5}, "sendmmsg": {20, 4},
}

// wordSize is the size of a long in a's native ABI.
func wordSize(a arch.Arch) uint8 {
	switch a.Go.GOARCH {
	case "386", "arm", "mips", "mipsle":
		return 4
	}
	return 8
}

// Forms lists the ways a program of arch a reaches syscall name, from the
// ABI's syscall table: its own number, and socketcall, old_mmap and mmap2
// where the table sends the call there. The case cd (whose probe watches
// the syscall) gives the register order of a direct call, planned for the
// kernel, and its deref:N arguments.
func Forms(a arch.Arch, p Planned) []Form {
	abi, ok := syscalls.ForGOARCH(a.Go.GOARCH)
	if !ok {
		return nil
	}
	name := p.Syscall
	ws := wordSize(a)
	var out []Form
	if sc, ok := syscalls.Lookup(abi, name); ok && sc.Entry != "" {
		f := Form{NR: int64(sc.NR), Entry: sc.Entry, Kind: FormDirect, Order: p.Order, DerefFor: -1, Params: paramsOf(abi, sc.Entry, ws)}
		if sc.Entry == "sys_old_mmap" {
			f.Kind, f.Order, f.Params = FormPacked, nil, nil
			f.Deref = proto.Watch{NR: f.NR, DerefArg: 0, Words: 6, WordSize: ws}
		} else {
			f.Deref = proto.Watch{NR: f.NR}
			for i, ad := range p.Args {
				if n, ok := strings.CutPrefix(string(ad.Value), "deref:"); ok {
					if arg, err := strconv.Atoi(n); err == nil && arg >= 1 && arg <= 6 {
						f.Deref = proto.Watch{NR: f.NR, DerefArg: uint8(arg - 1), Words: 1, WordSize: 8}
						f.DerefFor = i
					}
					break
				}
			}
		}
		out = append(out, f)
	}
	if name == "mmap" {
		if sc, ok := syscalls.Lookup(abi, "mmap2"); ok && sc.Entry != "" {
			out = append(out, Form{NR: int64(sc.NR), Entry: sc.Entry, Kind: FormPages, DerefFor: -1, Deref: proto.Watch{NR: int64(sc.NR)}})
		}
	}
	if sub, ok := socketcalls[name]; ok {
		if sc, ok := syscalls.Lookup(abi, "socketcall"); ok && sc.Entry != "" {
			out = append(out, Form{NR: int64(sc.NR), Entry: sc.Entry, Kind: FormSocketcall, Sub: sub[0], DerefFor: -1,
				Deref: proto.Watch{NR: int64(sc.NR), DerefArg: 1, Words: 6, WordSize: ws}})
		}
	}
	return out
}

// PlannedWorkload is a workload case planned for one target: each probe
// with the case that describes it and the forms of its syscall, the
// rounds the agent runs the program in, and what the tracepoint watches.
type PlannedWorkload struct {
	// Collection is the user's collection the probes are programs of
	// (empty: ksystest's own); the case then runs once per loader of it.
	Collection string
	Probes     []PlannedProbe
	Rounds     [][]proto.WorkloadProbe
	Watch      []proto.Watch
	// Skipped are probes with no case on this arch, and why.
	Skipped []string
	// Quirk is the workload case's own prediction on this arch (its
	// quirks:), nil when it has none: how its probes go wrong under the
	// program (never: they do not see calls that enter elsewhere, as
	// socketcall; wrongRegs: they read registers that are not the call's).
	Quirk *Prediction
}

// PlannedProbe is one probe of a workload.
type PlannedProbe struct {
	Program string
	// Case is the catalogue's case of this probe on the target (its
	// syscall, the arguments it reports, its prediction).
	Case  Planned
	Forms []Form
	// Never is the probe's case on the target predicted never to see its
	// call (or not to load), if one is: it explains calls the probe
	// cannot see.
	Never *Planned
	// Set is, for a program of a user's collection, the capture set of
	// Case it records (its program is Program); -1 for ksystest's probes.
	Set int
	// NoStrings says why the tracepoint copies none of the call's string
	// arguments on this arch (arch.Arch.NoStringsAtEntry), when it does
	// not: they are then not compared.
	NoStrings string
}

// Register is the register (0-based) that carries argument i of case pc
// in form f: a direct call's, -1 in any other form or for an argument
// read back (deref:).
func (f Form) Register(pc Planned, i int) int {
	if f.Kind != FormDirect {
		return -1
	}
	passed := pc.passed()
	for reg := range passed {
		k := reg
		if f.Order != nil && reg < len(f.Order) {
			k = f.Order[reg] - 1
		}
		if k >= 0 && k < len(passed) && passed[k] == i {
			return reg
		}
	}
	return -1
}

// contents are what the oracle copies at a direct call of form f for the
// user's program whose case is pc: what each str: argument (a string) and
// sockaddr: argument (as many bytes as the next register, the kernel's
// addrlen, holds) points to.
func (f Form) contents(pc Planned, a arch.Arch) []proto.WatchContent {
	var out []proto.WatchContent
	for i, ad := range pc.Args {
		kind, _, _ := strings.Cut(string(ad.Value), ":")
		reg := f.Register(pc, i)
		switch {
		case reg < 0:
		case kind == "str" && a.NoStringsAtEntry != "":
		case kind == "str":
			out = append(out, proto.WatchContent{Arg: uint8(reg), Kind: proto.ContentString})
		case kind == "sockaddr" && reg+1 < 6:
			out = append(out, proto.WatchContent{Arg: uint8(reg), Kind: proto.ContentSockaddr, LenArg: uint8(reg + 1)})
		}
	}
	return out
}

// Form returns the probe's form for syscall number nr.
func (pp PlannedProbe) Form(nr int64) (Form, bool) {
	for _, f := range pp.Forms {
		if f.NR == nr {
			return f, true
		}
	}
	return Form{}, false
}

// PlanWorkload plans workload case cd on arch a, its probes described by
// the target's other planned cases.
func PlanWorkload(cd CaseDef, a arch.Arch, planned []Planned) (*PlannedWorkload, error) {
	pw := &PlannedWorkload{}
	if q, ok := cd.Quirks[a.Name]; ok {
		pw.Quirk = &q
	}
	watch := map[int64]proto.Watch{}
	var order []int64
	builtin := 0
	for _, prog := range cd.Workload.Probes {
		c, set, ok := probeCase(planned, prog)
		if !ok {
			pw.Skipped = append(pw.Skipped, fmt.Sprintf("%s: no case of the catalogue uses it on %s", prog, a.Name))
			continue
		}
		pp := PlannedProbe{Program: prog, Case: c, Forms: Forms(a, c), Set: set}
		wp := proto.WorkloadProbe{Program: prog}
		switch {
		case set < 0 && c.Collection != "" && c.Collection != proto.Builtin:
			return nil, fmt.Errorf("workload %s: probe %s of collection %s reports through ksystest's ring buffer: a workload of a user's collection reads the records of its own (a capture set's events:)",
				cd.Name, prog, c.Collection)
		case set < 0:
			builtin++
		default:
			// The agent loads the collection again for each run, its
			// ${pid} the program's: one collection per workload.
			if pw.Collection != "" && pw.Collection != c.Collection {
				return nil, fmt.Errorf("workload %s: probe %s is in collection %s, an earlier one in %s: a workload's probes come from one collection",
					cd.Name, prog, c.Collection, pw.Collection)
			}
			pw.Collection = c.Collection
			capt := c.Captures[set]
			if capt.Events == "" {
				return nil, fmt.Errorf("workload %s: program %s stores its readings in globals or maps (case %s, set %s): a workload reads the records a program writes to its ring buffer or perf event array (events:), one per call",
					cd.Name, prog, c.Name, capt.Name)
			}
			// The set's expectations are the probe's.
			pp.Case.Expect = c.SetExpect[set]
			for j := range pp.Forms {
				pp.Forms[j].Deref.Contents = pp.Forms[j].contents(c, a)
			}
			pp.NoStrings = a.NoStringsAtEntry
			pc := capt.proto()
			wp.Set = &pc
		}
		for i := range planned {
			if q := planned[i]; q.Probe == prog && !q.Compat && q.Pred != nil && (q.Pred.Never || q.Pred.NoLoad) {
				pp.Never = &planned[i]
				break
			}
		}
		// The workload's own prediction on this arch comes before its
		// probes' cases'.
		switch {
		case pw.Quirk != nil && pw.Quirk.Never:
			pp.Never = &Planned{CaseDef: cd, Pred: pw.Quirk}
		case pw.Quirk != nil:
			pp.Case.Pred = pw.Quirk
		}
		if len(pp.Forms) == 0 {
			pw.Skipped = append(pw.Skipped, fmt.Sprintf("%s: %s has no number on %s", prog, c.Syscall, a.Name))
			continue
		}
		pw.Probes = append(pw.Probes, pp)
		for _, f := range pp.Forms {
			wp.NRs = append(wp.NRs, f.NR)
			w, ok := watch[f.NR]
			if !ok {
				order = append(order, f.NR)
				w = f.Deref
			}
			if w.Words == 0 && f.Deref.Words > 0 {
				w.DerefArg, w.Words, w.WordSize = f.Deref.DerefArg, f.Deref.Words, f.Deref.WordSize
			}
			if len(w.Contents) == 0 {
				w.Contents = f.Deref.Contents
			}
			watch[f.NR] = w
		}
		// The first round with none of these numbers.
		placed := false
		for r := range pw.Rounds {
			clash := false
			for _, other := range pw.Rounds[r] {
				for _, nr := range wp.NRs {
					clash = clash || slices.Contains(other.NRs, nr)
				}
			}
			if !clash {
				pw.Rounds[r] = append(pw.Rounds[r], wp)
				placed = true
				break
			}
		}
		if !placed {
			pw.Rounds = append(pw.Rounds, []proto.WorkloadProbe{wp})
		}
	}
	if pw.Collection != "" && builtin > 0 {
		return nil, fmt.Errorf("workload %s: probes of ksystest's and of collection %s: a workload checks the probes of one collection", cd.Name, pw.Collection)
	}
	for _, nr := range order {
		pw.Watch = append(pw.Watch, watch[nr])
	}
	return pw, nil
}

// usesProgram reports whether the case attaches prog: as its probe, or
// as the program of a capture set.
func (cd CaseDef) usesProgram(prog string) bool {
	return cd.Probe == prog || slices.ContainsFunc(cd.Captures, func(c CaptureDef) bool { return c.Program == prog })
}

// probeCase is the case describing probe prog on the target: a raw call
// of it, else any; for a program of a user's collection, the case with a
// capture set of its records, and which set (-1: prog is the case's
// probe).
func probeCase(planned []Planned, prog string) (Planned, int, bool) {
	var found *Planned
	foundSet := -1
	for i := range planned {
		p := &planned[i]
		if p.Workload != nil || p.Compat {
			continue
		}
		set := -1
		if p.Probe != prog {
			set = slices.IndexFunc(p.Captures, func(c CaptureDef) bool { return c.Program == prog && c.Events != "" })
			if set < 0 {
				set = slices.IndexFunc(p.Captures, func(c CaptureDef) bool { return c.Program == prog })
			}
			if set < 0 {
				continue
			}
		}
		if p.Via == proto.ViaRaw || p.Via == "" {
			return *p, set, true
		}
		if found == nil {
			found, foundSet = p, set
		}
	}
	if found != nil {
		return *found, foundSet, true
	}
	return Planned{}, -1, false
}
