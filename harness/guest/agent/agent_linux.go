// Package agent is the guest side of ksystest as a library: once pid1 has
// mounted what the guest needs, it loads the probes with cilium/ebpf,
// issues each case's syscall from one dedicated thread (or runs a
// workload), and reports what was passed and what the probes captured. It judges nothing; the host compares. It must not
// import host packages (run, image, qemu, vm).
package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ksystest/ksystest/harness/guest/trigger"
	"github.com/ksystest/ksystest/harness/proto"
)

// Emitter writes events to the console, one write per line, so that
// concurrent console output cannot land inside an event.
type Emitter struct {
	mu  sync.Mutex
	w   io.Writer
	seq int
}

// NewEmitter writes events to w.
func NewEmitter(w io.Writer) *Emitter { return &Emitter{w: w} }

// Emit sends e.
func (e *Emitter) Emit(ev proto.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	ev.Seq = e.seq
	e.w.Write(proto.Encode(ev))
}

// prepared is the agent's work that is the same in every run of a
// kernel, done by Prepare before a saved guest is saved.
var prepared *preparation

type preparation struct {
	symbols    kallsyms
	symbolsErr error
	features   Features
	featureErr error
}

// Prepare does, in a guest about to be saved, the agent's work that is
// the same in every run of the kernel, so that restored copies start past
// it: reading /proc/kallsyms (the saved guest's modules are the run's),
// and asking the kernel what it has (ProbeKernel; cilium/ebpf keeps its
// own answers too). A booted agent does both in Run.
func Prepare() {
	p := &preparation{}
	p.symbols, p.symbolsErr = readKernelSymbols()
	p.features, p.featureErr = ProbeKernel()
	prepared = p
}

func probeKernel() (Features, error) {
	if prepared != nil {
		return prepared.features, prepared.featureErr
	}
	return ProbeKernel()
}

// Run is the agent's whole life after mounts: hello, load, every case,
// done. A fatal problem is sent as an error event; the caller powers off
// either way.
func Run(em *Emitter, cataloguePath string) error {
	em.Emit(proto.Event{Type: proto.EventHello, Hello: hello()})
	start := time.Now()

	cat, err := readCatalogue(cataloguePath)
	if err != nil {
		return err
	}
	var rl = unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK.
	_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &rl)
	// Without run counts, "never ran" and "reported nothing" look alike;
	// the cases still run.
	_ = EnableStats()
	// A kernel ksystest cannot test says so once, before any case.
	feat, err := probeKernel()
	if err != nil {
		return err
	}
	if !feat.RingBuf {
		fmt.Fprintln(os.Stderr, "ksystest-agent: the kernel has no BPF ring buffers: probes report through perf event arrays")
	}

	r := &runner{thread: trigger.NewThread(), res: &trigger.GuestResources{},
		cols: map[string]*Probes{}, loadErrs: map[string]error{}, features: feat}
	defer r.close()
	if err := r.load(cat); err != nil {
		return err
	}
	if b := r.cols[proto.Builtin]; b != nil {
		if err := b.AttachOracle(); err != nil {
			r.oracleErr = err.Error()
		}
	}
	loadBefore := r.loadTime()
	casesStart := time.Now()
	for _, c := range byAttachment(cat.Cases) {
		res := proto.CaseResult{Name: c.Name}
		r.run(&res, c)
		em.Emit(proto.Event{Type: proto.EventCase, Case: &res})
	}
	r.detach()
	loaded := r.loaded(cat)
	loaded.CasesMillis = time.Since(casesStart).Milliseconds()
	loaded.BTFMillis, loaded.AttachMillis = r.btfTime.Milliseconds(), attachTime.Milliseconds()
	loaded.SetupMillis, loaded.KallsymsMillis = casesStart.Sub(start).Milliseconds(), r.symbolsTime.Milliseconds()
	loaded.CaseLoadMillis = (r.loadTime() - loadBefore).Milliseconds()
	em.Emit(proto.Event{Type: proto.EventLoaded, Loaded: loaded})
	em.Emit(proto.Event{Type: proto.EventDone})
	return nil
}

// byAttachment orders cases so that those attaching the same programs
// run one after another (in the catalogue's order otherwise): each set of
// programs is then attached once. Cases are independent; the host
// matches results by name.
func byAttachment(cases []proto.Case) []proto.Case {
	var keys []string
	groups := map[string][]proto.Case{}
	for _, c := range cases {
		k := attachKey(c)
		if c.Workload != nil {
			k = "workload|" + c.Name
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], c)
	}
	out := make([]proto.Case, 0, len(cases))
	for _, k := range keys {
		out = append(out, groups[k]...)
	}
	return out
}

// runner runs cases against loaded collections.
type runner struct {
	thread   *trigger.Thread
	res      *trigger.GuestResources
	compat   *compatHelper
	cols     map[string]*Probes
	loadErrs map[string]error
	// oracleErr says why the syscall tracepoint is not there.
	oracleErr string
	// features are what the kernel offers; wrapper what kallsyms said of
	// the syscall wrapper, whether or not ksystest's probes loaded.
	features Features
	wrapper  proto.Wrapper
	// btfTime is what reading the kernel's types took, symbolsTime
	// reading kallsyms.
	btfTime, symbolsTime time.Duration
	// cur is what the last case attached.
	cur *attached
	// defs and opts are each collection as the catalogue gives it and
	// what it was loaded with: a workload of a user's collection loads it
	// again for each run, with the program's ${pid}.
	defs        map[string]proto.Collection
	opts        LoadOptions
	entryOffset uint64
}

// load loads every collection on its own: ksystest's probes first,
// against the kernel's BTF (or the one shipped beside them), then the
// users', whose constants may name the thread the calls come from. One
// that fails to load fails its own cases only; without the kernel's
// types, which every collection needs, nothing runs.
func (r *runner) load(cat proto.Catalogue) error {
	o := LoadOptions{PID: os.Getpid(), TID: r.thread.TID, Features: r.features}
	start := time.Now()
	syms, err := kernelSymbols()
	r.symbolsTime = time.Since(start)
	if err != nil {
		o.SymbolsError = err.Error()
		r.wrapper.ReadError = "kallsyms: " + err.Error()
	} else {
		o.Symbols, o.Syscalls, o.Aliases = syms.BPFEntries, syms.Syscalls, syms.Aliases
		r.wrapper.Symbols = syms.BPFEntries
	}
	start = time.Now()
	o.KernelTypes, err = KernelTypes(proto.BTFPath)
	r.btfTime = time.Since(start)
	if err != nil {
		return err
	}
	r.opts, r.entryOffset, r.defs = o, cat.EntryOffset, map[string]proto.Collection{}
	for _, c := range cat.Collections {
		r.defs[c.Name] = c
		o.Constants = c.Constants
		p, err := LoadProbes(c, o)
		if err != nil {
			r.loadErrs[c.Name] = err
			continue
		}
		p.EntryOffset = cat.EntryOffset
		r.cols[c.Name] = p
	}
	if _, ok := r.cols[proto.Builtin]; !ok && r.loadErrs[proto.Builtin] == nil {
		r.loadErrs[proto.Builtin] = fmt.Errorf("the catalogue names no %s collection", proto.Builtin)
	}
	return nil
}

// loadTime is what creating maps and loading programs has taken so far,
// in every collection.
func (r *runner) loadTime() time.Duration {
	var d time.Duration
	for _, p := range r.cols {
		d += p.LoadTime
	}
	return d
}

// loaded is what loading took and learnt: ksystest's wrapper facts, and
// each collection's programs and time.
func (r *runner) loaded(cat proto.Catalogue) *proto.Loaded {
	l := &proto.Loaded{Wrapper: r.wrapper}
	for _, c := range cat.Collections {
		cl := proto.CollectionLoad{Name: c.Name, Loader: c.Loader}
		if err := r.loadErrs[c.Name]; err != nil {
			cl.Error = err.Error()
		}
		if p := r.cols[c.Name]; p != nil {
			cl.Programs, cl.LoadMillis = p.Loaded(), p.LoadTime.Milliseconds()
			cl.Wrapper, cl.ResolvedBy, cl.LoaderVersion = p.Wrapper.Loader, p.Wrapper.ResolvedBy, p.LoaderVersion()
			if c.Name == proto.Builtin {
				l.Programs, l.LoadMillis, l.Wrapper = cl.Programs, cl.LoadMillis, p.Wrapper
			}
		}
		l.Collections = append(l.Collections, cl)
	}
	return l
}

func (r *runner) run(res *proto.CaseResult, c proto.Case) {
	if c.Workload != nil {
		r.detach() // a workload attaches its own rounds of probes
		r.runWorkload(res, c)
		return
	}
	name := c.Collection
	if name == "" {
		name = proto.Builtin
	}
	if err := r.loadErrs[proto.Builtin]; err != nil {
		res.Error = err.Error()
		return
	}
	builtin, col := r.cols[proto.Builtin], r.cols[name]
	var refused *LoadError
	if err := r.loadErrs[name]; errors.As(err, &refused) {
		// The loader refused the collection: the case's verdict is that,
		// and the call is still made, for the oracle to see.
		res.LoadError = fmt.Sprintf("collection %s did not load: %v", name, err)
		col = builtin
	} else if err != nil {
		res.Error = fmt.Sprintf("collection %s did not load: %v", name, err)
		return
	}
	if col == nil {
		res.Error = fmt.Sprintf("no collection %s in this guest", name)
		return
	}
	tid := r.thread.TID
	issue := func() (trigger.Call, error) { return trigger.Issue(r.thread, c, r.res) }
	if c.Compat {
		if r.compat == nil {
			h, err := startCompat(proto.CompatHelperPath)
			if err != nil {
				res.Error = err.Error()
				return
			}
			r.compat = h
		}
		tid = r.compat.TID
		issue = func() (trigger.Call, error) { return r.compat.issue(c) }
	}
	for _, p := range uniqueProbes(builtin, col) {
		if err := p.SetTarget(tid); err != nil {
			res.Error = err.Error()
			return
		}
	}
	if err := col.ResetGlobals(); err != nil {
		res.Error = err.Error()
		return
	}
	var progs []string
	if refused == nil {
		var ok bool
		if progs, ok = r.attachFor(res, col, c); !ok {
			return
		}
	}
	// Anything left from an earlier case is not this case's.
	for _, p := range uniqueProbes(builtin, col) {
		if _, err := p.Drain(); err != nil {
			res.Error = err.Error()
			return
		}
	}
	if err := col.DrainRecords(c); err != nil {
		res.Error = err.Error()
		return
	}
	before := col.Runs(progs)
	call, err := issue()
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Passed, res.Regs, res.NArgs, res.NR, res.Ret, res.Errno = call.Passed, call.Regs, call.NArgs, call.NR, call.Ret, call.Errno
	res.Effects, res.Contents = call.Effects, contentsOf(call.Contents)
	res.PID, res.TID = os.Getpid(), tid
	if c.Compat {
		res.PID = r.compat.cmd.Process.Pid
	}
	if after := col.Runs(progs); before != nil && after != nil {
		res.Runs = map[string]uint64{}
		for n, v := range after {
			res.Runs[n] = v - before[n]
		}
	}
	d, err := builtin.Drain()
	if err == nil && d.Lost > 0 {
		err = fmt.Errorf("the kernel lost %d of the call's reports", d.Lost)
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.Oracle, res.OracleError = d.Oracle, r.oracleErr
	if col != builtin {
		d, err = col.Drain()
		if err == nil && d.Lost > 0 {
			err = fmt.Errorf("the kernel lost %d of the call's reports to %s", d.Lost, col.Name)
		}
		if err != nil {
			res.Error = err.Error()
		}
	}
	res.Captures = d.Captures
	if refused != nil {
		res.Captures = nil // the builtin probes' rows are not this case's
		return
	}
	for _, capt := range c.Captures {
		switch {
		case capt.Events != "":
			res.Sets = append(res.Sets, col.ReadRecords(capt))
		case capt.Emit == nil:
			res.Sets = append(res.Sets, col.ReadSet(capt, os.Getpid(), tid))
		case *capt.Emit == 0:
			res.Sets = append(res.Sets, proto.SetResult{Rows: d.Captures})
		default:
			res.Sets = append(res.Sets, proto.SetResult{Rows: d.Sets[uint8(*capt.Emit)]})
		}
	}
}

// attached is what the previous case attached, kept for the next case
// when it attaches exactly the same: detaching a kprobe waits for an RCU
// grace period, which under emulation is most of a case's cost.
type attached struct {
	key    string
	col    *Probes
	progs  []string
	detach func()
	// res holds what attaching reported, for the cases that reuse it.
	res proto.CaseResult
}

// attachKey names what a case attaches: equal keys attach the same
// programs the same way.
func attachKey(c proto.Case) string {
	key := c.Collection + "|" + c.Probe + fmt.Sprintf("|%v|", c.AtEntry)
	for _, capt := range c.Captures {
		key += strings.Join(capturePrograms(capt), "+") + ","
	}
	return key
}

// attachFor attaches what case c needs, reusing the previous case's
// attachment when it is the same.
func (r *runner) attachFor(res *proto.CaseResult, col *Probes, c proto.Case) ([]string, bool) {
	key := attachKey(c)
	if r.cur != nil && r.cur.key == key && r.cur.col == col {
		res.Attach, res.Attached, res.Section, res.AttachError, res.LoadError = r.cur.res.Attach, r.cur.res.Attached, r.cur.res.Section, r.cur.res.AttachError, r.cur.res.LoadError
		return r.cur.progs, true
	}
	r.detach()
	progs, detach, ok := r.attach(res, col, c)
	if !ok {
		detach()
		return nil, false
	}
	r.cur = &attached{key: key, col: col, progs: progs, detach: detach,
		res: proto.CaseResult{Attach: res.Attach, Attached: res.Attached, Section: res.Section, AttachError: res.AttachError, LoadError: res.LoadError}}
	return progs, true
}

// detach detaches what the last case attached.
func (r *runner) detach() {
	if r.cur != nil {
		r.cur.detach()
		r.cur = nil
	}
}

// attach attaches the case's probe and its capture sets' programs, and
// returns their names and how to detach them. A probe that does not load
// or attach is reported and the call is still made (the oracle sees it,
// and some cases expect just that); ok is false only when the case cannot
// run at all.
func (r *runner) attach(res *proto.CaseResult, col *Probes, c proto.Case) (progs []string, detach func(), ok bool) {
	var detaches []func()
	detach = func() {
		for _, d := range detaches {
			d()
		}
	}
	entry := col.EntryOffset
	if c.AtEntry {
		col.EntryOffset = 0
	}
	defer func() { col.EntryOffset = entry }()
	names := []string{}
	if c.Probe != "" {
		names = append(names, c.Probe)
	}
	for _, capt := range c.Captures {
		for _, n := range capturePrograms(capt) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		syms, d, err := col.Attach(n)
		detaches = append(detaches, d)
		progs = append(progs, n)
		if err == nil {
			if res.Attached == nil {
				res.Attached = map[string]string{}
			}
			res.Attached[n] = strings.Join(syms, ",")
		}
		if n == c.Probe {
			res.Attach = strings.Join(syms, ",")
			res.Section = col.Section(n)
		}
		var le *LoadError
		switch {
		case errors.Is(err, ErrNoProbe):
			res.Error = err.Error()
			return progs, detach, false
		case errors.As(err, &le) && res.LoadError == "":
			res.LoadError = le.Error()
		case err != nil && le == nil && res.AttachError == "":
			// The call is still made: that a probe cannot attach is
			// itself what some cases expect (no sys_mmap on s390x).
			res.AttachError = err.Error()
		}
	}
	return progs, detach, true
}

// capturePrograms are the programs a capture set attaches.
func capturePrograms(c proto.Capture) []string {
	return append([]string{c.Program}, c.Programs...)
}

// contentsOf is contents, or nil when no argument points to content.
func contentsOf(contents [][]byte) [][]byte {
	for _, c := range contents {
		if c != nil {
			return contents
		}
	}
	return nil
}

// uniqueProbes is ps without repeats (a builtin case's collection is the
// builtin one).
func uniqueProbes(ps ...*Probes) []*Probes {
	var out []*Probes
	for _, p := range ps {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func (r *runner) close() {
	r.detach()
	if r.compat != nil {
		r.compat.close()
	}
	for _, p := range r.cols {
		p.Close()
	}
}

func readCatalogue(path string) (proto.Catalogue, error) {
	var cat proto.Catalogue
	b, err := os.ReadFile(path)
	if err != nil {
		return cat, fmt.Errorf("read catalogue: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cat); err != nil {
		return cat, fmt.Errorf("decode catalogue %s: %w", path, err)
	}
	if dec.More() {
		return cat, fmt.Errorf("decode catalogue %s: text after the catalogue", path)
	}
	if cat.Version != proto.Version {
		return cat, fmt.Errorf("catalogue version %d, agent speaks %d", cat.Version, proto.Version)
	}
	return cat, nil
}

func hello() *proto.Hello {
	var u unix.Utsname
	_ = unix.Uname(&u)
	h := &proto.Hello{
		Kernel:  unix.ByteSliceToString(u.Release[:]),
		Machine: unix.ByteSliceToString(u.Machine[:]),
		GOARCH:  runtime.GOARCH,
	}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		f, _, _ := strings.Cut(string(b), " ")
		h.UptimeSec, _ = strconv.ParseFloat(f, 64)
	}
	return h
}
