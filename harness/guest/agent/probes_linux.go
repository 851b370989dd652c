package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
)

// Names ksystest.h gives the maps and programs it reads.
const (
	eventsMap     = "ksystest_events"
	targetMap     = "ksystest_target"
	derefMap      = "ksystest_oracle_deref"
	contentMap    = "ksystest_oracle_content"
	oracleProgram = "oracle_sys_enter"
)

// Probes is one collection (a BPF object: ksystest's own probes or a
// user's). Its maps are created once, at load; each program is loaded the
// first time a case attaches it, sharing those maps, so a program the
// kernel rejects fails its own cases and no other.
type Probes struct {
	Name string
	// Loader is what loads the collection and attaches its programs
	// (proto.LoaderKsystest, proto.LoaderCiliumEBPF, a libbpf).
	Loader string
	// path is the object's; loaderArgs more arguments for its loader's
	// helper.
	path       string
	loaderArgs []string
	spec       *ebpf.CollectionSpec
	// maps are the collection's maps by the names the object gives them
	// (a data section's map by the section's name: .bss).
	maps map[string]*ebpf.Map
	// owner holds what loaded them: a cilium/ebpf collection, or the
	// libbpf helper.
	owner  io.Closer
	libbpf *libbpfHelper
	opts   ebpf.CollectionOptions
	events eventReader
	// lostReports counts the reports the kernel could not write: a perf
	// event array says how many (a full ring buffer drops them unsaid).
	lostReports uint64
	// Wrapper is what loading learnt about the syscall wrapper (from the
	// first program loaded that reads LINUX_HAS_SYSCALL_WRAPPER).
	Wrapper proto.Wrapper
	progs   map[string]*ebpf.Program
	loadErr map[string]error
	// globals are the writable data sections as loaded (ResetGlobals).
	globals map[string][]byte
	// readers read the user's ring buffers and perf event arrays that
	// capture sets name, by map.
	readers map[string]*records
	// LoadTime is what creating the maps and loading programs took.
	LoadTime time.Duration
	oracle   link.Link
	// EntryOffset, when not zero, attaches kprobes that far into the
	// function (past an ftrace patch site the kernel will not probe).
	EntryOffset uint64
	// syscalls are the kernel's syscall entry points (nil: not known);
	// prefix is the one cilium/ebpf puts before a syscall's name on this
	// arch when the plain name is missing (__x64_).
	syscalls map[string]bool
	prefix   string
	// aliases are the syscall entry points' names by address.
	aliases map[string][]string
}

// LoadOptions are what every collection of a guest loads against.
type LoadOptions struct {
	// KernelTypes is the kernel's BTF when it has none of its own (nil:
	// the kernel's).
	KernelTypes *btf.Spec
	// Symbols are the __*_sys_bpf symbols of /proc/kallsyms, and
	// SymbolsError why they could not be read.
	Symbols      []string
	SymbolsError string
	// Syscalls are the syscall entry points of /proc/kallsyms (sys_*,
	// __*_sys_*), nil when it could not be read; Aliases their names by
	// address.
	Syscalls map[string]bool
	Aliases  map[string][]string
	// Constants set .rodata globals before loading (a number, ${pid} or
	// ${tid}: PID, TID are the thread making the cases' calls).
	Constants map[string]string
	PID, TID  int
	// Features are what the kernel offers (ProbeKernel).
	Features Features
}

// KernelTypes loads the BTF at path when it exists: the kernel's own is
// used otherwise.
func KernelTypes(path string) (*btf.Spec, error) {
	if _, err := os.Stat(path); err != nil {
		// The kernel's own, read once here so that its cost is its own
		// phase, not the first program's load.
		spec, err := btf.LoadKernelSpec()
		if err != nil {
			return nil, fmt.Errorf("the kernel's BTF: %w", err)
		}
		return spec, nil
	}
	spec, err := btf.LoadSpec(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return spec, nil
}

// LoadProbes reads the collection c and loads it with its loader: with
// proto.LoaderKsystest its maps now and each program when a case first
// needs it; with proto.LoaderCiliumEBPF all of it at once, as its users
// load it, so that anything the loader refuses is a *LoadError for the
// whole collection.
func LoadProbes(c proto.Collection, o LoadOptions) (*Probes, error) {
	spec, err := ebpf.LoadCollectionSpec(c.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.Path, err)
	}
	p := &Probes{Name: c.Name, Loader: c.Loader, path: c.Path, loaderArgs: c.LoaderArgs, spec: spec, progs: map[string]*ebpf.Program{}, loadErr: map[string]error{},
		Wrapper: proto.Wrapper{Symbols: o.Symbols}, syscalls: o.Syscalls, aliases: o.Aliases}
	switch {
	case c.Loader == proto.LoaderKsystest, c.Loader == proto.LoaderCiliumEBPF, proto.IsLibbpf(c.Loader):
	default:
		return nil, fmt.Errorf("%s: no loader %q in this agent", c.Name, c.Loader)
	}
	if a, err := arch.ByGOARCH(runtime.GOARCH); err == nil {
		p.prefix = a.LoaderPrefix
	}
	if o.SymbolsError != "" {
		p.Wrapper.ReadError = "kallsyms: " + o.SymbolsError
	}
	p.opts.Programs.KernelTypes = o.KernelTypes
	start := time.Now()
	defer func() { p.LoadTime += time.Since(start) }()
	if err := setConstants(spec, o.Constants, o.PID, o.TID); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	if c.Loader == proto.LoaderKsystest && !o.Features.RingBuf {
		perfEvents(spec)
	}
	switch {
	case c.Loader == proto.LoaderCiliumEBPF:
		err = p.loadWhole()
	case proto.IsLibbpf(c.Loader):
		err = p.loadLibbpf(o)
	default:
		err = p.loadMaps()
	}
	if err != nil {
		return nil, err
	}
	if err := p.snapshotGlobals(); err != nil {
		p.Close()
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	if m := p.maps[eventsMap]; m != nil {
		if p.events, err = newEventReader(m); err != nil {
			p.Close()
			return nil, fmt.Errorf("read %s of %s: %w", eventsMap, c.Name, err)
		}
	}
	return p, nil
}

// perfEvents makes the collection's ksystest_events, a ring buffer, a perf
// event array with a buffer per CPU (cilium/ebpf sizes it), for a kernel
// without ring buffers. ksystest.h's ksystest_submit writes there with
// bpf_perf_event_output on such a kernel.
func perfEvents(spec *ebpf.CollectionSpec) {
	m := spec.Maps[eventsMap]
	if m == nil || m.Type != ebpf.RingBuf {
		return
	}
	m.Type, m.KeySize, m.ValueSize, m.MaxEntries = ebpf.PerfEventArray, 4, 4, 0
}

// perfBuffer is each CPU's buffer of a perf event array: as much as
// ksystest.h's ring buffer holds.
const perfBuffer = 1 << 18

// eventReader reads a collection's reports from its ring buffer or its
// perf event array, oldest first, waiting for more until the deadline
// (os.ErrDeadlineExceeded when none came).
type eventReader interface {
	SetDeadline(time.Time)
	// next returns a report, or how many the kernel lost instead.
	next() (raw []byte, lost uint64, err error)
	Close() error
}

type ringEvents struct{ *ringbuf.Reader }

func (r ringEvents) next() ([]byte, uint64, error) {
	rec, err := r.Read()
	return rec.RawSample, 0, err
}

type perfEventReader struct{ *perf.Reader }

func (r perfEventReader) next() ([]byte, uint64, error) {
	rec, err := r.Read()
	return rec.RawSample, rec.LostSamples, err
}

func newEventReader(m *ebpf.Map) (eventReader, error) {
	if m.Type() == ebpf.PerfEventArray {
		r, err := perf.NewReader(m, perfBuffer)
		if err != nil {
			return nil, err
		}
		return perfEventReader{r}, nil
	}
	r, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, err
	}
	return ringEvents{r}, nil
}

// nextEvent reads the next report, counting what the kernel lost on the
// way.
func (p *Probes) nextEvent() (event, error) {
	for {
		raw, lost, err := p.events.next()
		if err != nil {
			return event{}, err
		}
		if lost > 0 {
			p.lostReports += lost
			continue
		}
		return decodeEvent(raw)
	}
}

// loadMaps creates the collection's maps, for its programs to load one by
// one as cases need them (the ksystest loader).
func (p *Probes) loadMaps() error {
	mapsOnly := p.spec.Copy()
	mapsOnly.Programs = nil
	coll, err := ebpf.NewCollectionWithOptions(mapsOnly, p.opts)
	if err != nil {
		return fmt.Errorf("create the maps of %s: %w", p.Name, err)
	}
	p.owner, p.maps = collectionCloser{coll}, coll.Maps
	p.opts.MapReplacements = coll.Maps
	return nil
}

// loadWhole loads the collection as cilium/ebpf's users do, maps and
// every program at once, with nothing of ksystest's in between; then
// reads back the LINUX_HAS_SYSCALL_WRAPPER it resolved.
func (p *Probes) loadWhole() error {
	p.Wrapper.ResolvedBy = proto.LoaderCiliumEBPF
	coll, err := ebpf.NewCollectionWithOptions(p.spec, p.opts)
	if err != nil {
		return &LoadError{Err: fmt.Errorf("%s %s refuses it: %s", p.Loader, CiliumVersion(), verifierDetail(err))}
	}
	p.owner, p.maps, p.progs = collectionCloser{coll}, coll.Maps, coll.Programs
	p.readWrapper()
	return nil
}

// collectionCloser closes a cilium/ebpf collection as an io.Closer.
type collectionCloser struct{ *ebpf.Collection }

func (c collectionCloser) Close() error { c.Collection.Close(); return nil }

// readWrapper reads back, from the first loaded program that reads it,
// the LINUX_HAS_SYSCALL_WRAPPER its loader resolved.
func (p *Probes) readWrapper() {
	for _, name := range p.Loaded() {
		v, err := readWrapperValue(p.spec, p.progs[name])
		if err == nil {
			p.Wrapper.Loader = &v
			return
		}
		if !errors.Is(err, errNoKconfig) {
			p.Wrapper.ReadError = err.Error()
		}
	}
}

// LoaderVersion is the version of the loader that loaded p.
func (p *Probes) LoaderVersion() string {
	if p.libbpf != nil {
		return fmt.Sprintf("%s (Debian %s)", p.libbpf.hello.Libbpf, p.libbpf.hello.Package)
	}
	return CiliumVersion()
}

// CiliumVersion is the version of cilium/ebpf the agent is built with.
func CiliumVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/cilium/ebpf" {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

// program loads the program called name once, with the collection's maps.
func (p *Probes) program(name string) (*ebpf.Program, error) {
	if prog := p.progs[name]; prog != nil {
		return prog, nil
	}
	if p.Loader != proto.LoaderKsystest {
		return nil, fmt.Errorf("%s has no program %s", p.Name, name)
	}
	if err := p.loadErr[name]; err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { p.LoadTime += time.Since(start) }()
	one := p.spec.Copy()
	one.Programs = map[string]*ebpf.ProgramSpec{name: p.spec.Programs[name]}
	first := p.Wrapper.ResolvedBy == ""
	w := p.Wrapper
	coll, err := loadWithWrapperFallback(one, p.opts, &w)
	if err != nil {
		err = fmt.Errorf("load %s: %s", name, verifierDetail(err))
		p.loadErr[name] = err
		return nil, err
	}
	prog := coll.Programs[name]
	delete(coll.Programs, name)
	if v, rerr := readWrapperValue(one, prog); rerr == nil && (first || p.Wrapper.Loader == nil) {
		w.Loader = &v
		p.Wrapper = w
	} else if first && rerr != nil && !errors.Is(rerr, errNoKconfig) {
		w.ReadError = rerr.Error()
		p.Wrapper = w
	}
	coll.Close()
	p.progs[name] = prog
	return prog, nil
}

// Load loads every program of the collection (ksystest shell's agent, a
// user's collection attached whole).
func (p *Probes) Load() error {
	var errs []error
	for _, name := range p.Programs() {
		if _, err := p.program(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// verifierDetail keeps the whole verifier log: it is the evidence a user
// needs when a probe is rejected.
func verifierDetail(err error) string {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Sprintf("%+v", ve)
	}
	return err.Error()
}

// SetTarget tells the probes which thread's calls to report.
func (p *Probes) SetTarget(tid int) error {
	m := p.maps[targetMap]
	if m == nil {
		return nil
	}
	if err := m.Put(uint32(0), uint32(tid)); err != nil {
		return fmt.Errorf("set probe target: %w", err)
	}
	return nil
}

// SetWorkload tells the probes to report every task's calls but those of
// process agent (the agent's): a workload runs.
func (p *Probes) SetWorkload(agent int) error {
	m := p.maps[targetMap]
	if m == nil {
		return fmt.Errorf("%s has no %s map", p.Name, targetMap)
	}
	if err := m.Put(uint32(1), uint32(agent)); err != nil {
		return fmt.Errorf("set workload target: %w", err)
	}
	if err := m.Put(uint32(0), uint32(0)); err != nil {
		return fmt.Errorf("set workload target: %w", err)
	}
	return nil
}

// ReadEvents returns the reported events, in order, waiting for more
// until deadline.
func (p *Probes) ReadEvents(deadline time.Time) ([]event, error) {
	if p.events == nil {
		return nil, nil
	}
	var out []event
	p.events.SetDeadline(deadline)
	for {
		ev, err := p.nextEvent()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read %s: %w", eventsMap, err)
		}
		out = append(out, ev)
		// Return what there is as soon as the ring is empty.
		deadline = time.Now()
		p.events.SetDeadline(deadline)
	}
}

// Loaded lists the programs loaded so far.
func (p *Probes) Loaded() []string {
	var names []string
	for name := range p.progs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Programs lists the collection's programs by name.
func (p *Probes) Programs() []string {
	var names []string
	for name := range p.spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Section is the ELF section of the program called name ("" when none).
func (p *Probes) Section(name string) string {
	if ps := p.spec.Programs[name]; ps != nil {
		return ps.SectionName
	}
	return ""
}

// Attach attaches the probe called name: the program of that name and
// every program named name__SUFFIX, each where its section says. The
// suffixed programs catch other paths to the same call (socketcall, an
// i386 kernel's mmap_pgoff) that an arch may not have. The probe is
// attached when any of its programs is. It returns the symbols (one that
// did not attach marked "(absent)") and a function that detaches what did
// attach; an error says none attached: the main program's (a *LoadError
// when the kernel would not load it).
func (p *Probes) Attach(name string) ([]string, func(), error) {
	if _, ok := p.spec.Programs[name]; !ok {
		return nil, func() {}, fmt.Errorf("%w: %q in %s", ErrNoProbe, name, p.Name)
	}
	var optional []string
	for pn := range p.spec.Programs {
		if p.Loader == proto.LoaderKsystest && strings.HasPrefix(pn, name+"__") {
			optional = append(optional, pn)
		}
	}
	sort.Strings(optional)
	var (
		links   []io.Closer
		syms    []string
		mainErr error
	)
	for _, pn := range append([]string{name}, optional...) {
		sym, l, err := p.attachOne(pn, pn != name)
		if err != nil {
			if pn == name {
				mainErr = err
			}
			syms = append(syms, sym+" (absent)")
			continue
		}
		links = append(links, l)
		syms = append(syms, sym)
	}
	detach := func() {
		start := time.Now()
		for _, l := range links {
			l.Close()
		}
		attachTime += time.Since(start)
	}
	if len(links) == 0 {
		syms[0] = strings.TrimSuffix(syms[0], " (absent)")
		return syms, detach, mainErr
	}
	return syms, detach, nil
}

// attachTime is what attaching and detaching probes took, all told (the
// agent attaches from one goroutine).
var attachTime time.Duration

// LoadError is a probe the kernel would not load.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// ErrNoProbe means the probe objects have no program of that name.
var ErrNoProbe = errors.New("no such probe")

// errAbsent is an optional program's function that kallsyms does not
// have: it is neither loaded nor attached.
var errAbsent = errors.New("no such function in kallsyms")

func (p *Probes) attachOne(name string, optional bool) (string, io.Closer, error) {
	ps := p.spec.Programs[name]
	section, target, _ := strings.Cut(ps.SectionName, "/")
	var (
		sym  string
		opts link.KprobeOptions
	)
	ret := false
	switch section {
	case "tracepoint", "tp":
		return p.attachTracepoint(name, target)
	case "ksyscall", "kretsyscall":
		// cilium/ebpf retries with this arch's wrapper prefix (__x64_…)
		// when the plain symbol does not exist.
		sym = "sys_" + target
		opts.Offset = p.entryOffset()
		ret = section == "kretsyscall"
	case "kretprobe":
		sym, ret = target, true
	case "kprobe":
		// libbpf's form: kprobe/SYMBOL or kprobe/SYMBOL+OFFSET.
		var off string
		var ok bool
		if sym, off, ok = strings.Cut(target, "+"); ok {
			n, err := strconv.ParseUint(off, 0, 32)
			if err != nil {
				return target, nil, fmt.Errorf("probe %s: section %q: bad offset", name, ps.SectionName)
			}
			opts.Offset = n
		} else {
			opts.Offset = p.entryOffset()
		}
	default:
		return "", nil, fmt.Errorf("probe %s: section %q is not ksyscall/, kretsyscall/, kprobe/, kretprobe/ or tracepoint/", name, ps.SectionName)
	}
	label := sym
	if ret {
		opts.Offset = 0 // a return probe fires at the function's return, whatever its entry
	}
	if opts.Offset != 0 {
		label = fmt.Sprintf("%s+%d", sym, opts.Offset)
	}
	if optional && p.absent(sym) {
		return label, nil, errAbsent
	}
	prog, err := p.program(name)
	if err != nil {
		return label, nil, &LoadError{Err: err}
	}
	before := kernelKprobes()
	start := time.Now()
	var l io.Closer
	if p.libbpf != nil {
		// libbpf decides where a program attaches, as its users' do.
		label = ps.SectionName
		l, err = p.libbpf.attach(name)
	} else if ret {
		l, err = p.kretprobe(sym, prog)
	} else {
		l, err = p.kprobe(sym, prog, &opts)
	}
	attachTime += time.Since(start)
	if err != nil {
		return label, nil, fmt.Errorf("attach %s to %s: %w", name, label, err)
	}
	// The function the loader really attached to, as the kernel lists it
	// (cilium/ebpf's retry with the arch's prefix, say).
	if placed := newKprobes(before, kernelKprobes()); len(placed) == 1 {
		label = placed[0].name(p.aliases)
	}
	return label, l, nil
}

// kernelKprobes reads the kernel's kprobe list (nil when it cannot: no
// debugfs).
func kernelKprobes() map[string]int {
	f, err := os.Open(kprobesList)
	if err != nil {
		return nil
	}
	defer f.Close()
	return readKprobes(f)
}

// entryOffset is how far into a function a probe without an offset of
// its own attaches: at the entry, as loaders attach, except with ksystest's
// help (EntryOffset).
func (p *Probes) entryOffset() uint64 {
	if p.Loader != proto.LoaderKsystest {
		return 0
	}
	return p.EntryOffset
}

// kprobe is link.Kprobe, which tries the symbol as given and, when the
// kernel has none of that name, again with the arch's syscall prefix
// (__x64_sys_write for sys_write). The kernel answers a try on a missing
// symbol by walking its whole symbol table, tens of milliseconds under
// emulation, for every ksyscall probe on a kernel with the wrapper. Where
// kallsyms has the prefixed entry point and not the plain one, that is
// tried at once: the same probe on the same function cilium/ebpf's second
// try attaches. Otherwise, or should it fail, the call is made as
// cilium/ebpf makes it, so that the error is its own.
func (p *Probes) kprobe(sym string, prog *ebpf.Program, opts *link.KprobeOptions) (link.Link, error) {
	if prefixed, ok := p.prefixedOnly(sym); ok {
		if l, err := link.Kprobe(prefixed, prog, opts); err == nil {
			return l, nil
		}
	}
	return link.Kprobe(sym, prog, opts)
}

// kretprobe is link.Kretprobe, tried first on the arch's prefixed name
// where kallsyms has only that one, as kprobe does.
func (p *Probes) kretprobe(sym string, prog *ebpf.Program) (link.Link, error) {
	if prefixed, ok := p.prefixedOnly(sym); ok {
		if l, err := link.Kretprobe(prefixed, prog, nil); err == nil {
			return l, nil
		}
	}
	return link.Kretprobe(sym, prog, nil)
}

// attachTracepoint attaches a tracepoint/CATEGORY/NAME program, as its
// loader does (libbpf's auto-attach, link.Tracepoint).
func (p *Probes) attachTracepoint(name, target string) (string, io.Closer, error) {
	prog, err := p.program(name)
	if err != nil {
		return target, nil, &LoadError{Err: err}
	}
	start := time.Now()
	defer func() { attachTime += time.Since(start) }()
	if p.libbpf != nil {
		l, err := p.libbpf.attach(name)
		if err != nil {
			return target, nil, fmt.Errorf("attach %s to %s: %w", name, target, err)
		}
		return target, l, nil
	}
	category, event, ok := strings.Cut(target, "/")
	if !ok {
		return target, nil, fmt.Errorf("probe %s: tracepoint %q is not CATEGORY/NAME", name, target)
	}
	l, err := link.Tracepoint(category, event, prog, nil)
	if err != nil {
		return target, nil, fmt.Errorf("attach %s to %s: %w", name, target, err)
	}
	return target, l, nil
}

// prefixedOnly returns the arch's prefixed name for a sys_* symbol that
// kallsyms has only with the prefix.
func (p *Probes) prefixedOnly(sym string) (string, bool) {
	if p.prefix == "" || p.syscalls == nil || !strings.HasPrefix(sym, "sys_") || p.syscalls[sym] {
		return "", false
	}
	return p.prefix + sym, p.syscalls[p.prefix+sym]
}

// absent reports whether kallsyms says a kprobe on sym, or on the name
// link.Kprobe would try next, cannot attach: a syscall entry point
// (sys_*, __*_sys_*) the kernel has under neither name.
func (p *Probes) absent(sym string) bool {
	if p.syscalls == nil || p.syscalls[sym] || !isSyscallEntry(sym) {
		return false // known, or not a name kallsyms was searched for
	}
	return p.prefix == "" || !p.syscalls[p.prefix+sym]
}

// Drained is what the reports held: probe captures (set 0), rows of other
// capture sets by number, and the syscall tracepoint's records.
type Drained struct {
	Captures [][]uint64
	Sets     map[uint8][][]uint64
	Oracle   []proto.OracleCall
	// Lost is how many reports the kernel could not write meanwhile.
	Lost uint64
}

// Drain returns every event reported, without waiting: the probes run
// inside the syscall and submit before it returns, so its events are
// already there when Drain is called.
func (p *Probes) Drain() (Drained, error) {
	var d Drained
	if p.events == nil {
		return d, nil
	}
	p.events.SetDeadline(time.Now())
	lost := p.lostReports
	for {
		ev, err := p.nextEvent()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			d.Lost = p.lostReports - lost
			return d, nil
		}
		if err != nil {
			return d, fmt.Errorf("read %s: %w", eventsMap, err)
		}
		switch {
		case ev.kind == kindContent:
			// Only workloads ask for contents.
		case ev.kind == kindOracle:
			d.Oracle = append(d.Oracle, proto.OracleCall{NR: int64(ev.nr), Args: ev.args, Deref: nonZero(ev.deref)})
		case ev.set == 0:
			d.Captures = append(d.Captures, ev.args)
		default:
			if d.Sets == nil {
				d.Sets = map[uint8][][]uint64{}
			}
			d.Sets[ev.set] = append(d.Sets[ev.set], ev.args)
		}
	}
}

// nonZero returns words, or nil when every one is zero (the oracle did not
// read through this call's arguments).
func nonZero(words []uint64) []uint64 {
	for _, w := range words {
		if w != 0 {
			return words
		}
	}
	return nil
}

// AttachOracle attaches the raw_syscalls/sys_enter program for good.
func (p *Probes) AttachOracle() error {
	if _, ok := p.spec.Programs[oracleProgram]; !ok {
		return fmt.Errorf("no %s program", oracleProgram)
	}
	prog, err := p.program(oracleProgram)
	if err != nil {
		return err
	}
	l, err := link.Tracepoint("raw_syscalls", "sys_enter", prog, nil)
	if err != nil {
		return fmt.Errorf("raw_syscalls/sys_enter unavailable: %w", err)
	}
	p.oracle = l
	return nil
}

// SetDeref tells the oracle to copy the words argument arg (0-based) of
// syscall nr points to: socketcall's array, old_mmap's struct.
func (p *Probes) SetDeref(nr uint32, arg, words, wordSize uint8) error {
	m := p.maps[derefMap]
	if m == nil {
		return fmt.Errorf("%s has no %s map", p.Name, derefMap)
	}
	return m.Put(nr, [4]uint8{arg, words, wordSize, 0})
}

// SetContents tells the oracle to copy, at each call of syscall nr, what
// its arguments point to (at most two: a path, a socket address).
func (p *Probes) SetContents(nr uint32, cs []proto.WatchContent) error {
	m := p.maps[contentMap]
	if m == nil {
		return fmt.Errorf("%s has no %s map", p.Name, contentMap)
	}
	if len(cs) > 2 {
		return fmt.Errorf("the oracle copies at most 2 arguments' contents per call, not %d", len(cs))
	}
	var v [12]uint8
	v[0] = uint8(len(cs))
	for i, c := range cs {
		kind := uint8(2) // bytes, as many as register LenArg holds
		if c.Kind == proto.ContentString {
			kind = 1
		}
		v[4+4*i], v[5+4*i], v[6+4*i] = c.Arg, kind, c.LenArg
	}
	return m.Put(nr, v)
}

// ClearDeref stops the oracle reading through syscall nr's arguments.
func (p *Probes) ClearDeref(nr uint32) error {
	m := p.maps[derefMap]
	if m == nil {
		return nil
	}
	if err := m.Delete(nr); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	if m := p.maps[contentMap]; m != nil {
		if err := m.Delete(nr); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}

const (
	kindProbe   = 0
	kindOracle  = 1
	kindContent = 2
	maxArgs     = 6
	// eventSize is struct ksystest_event (ksystest.h).
	eventSize = 8 + 8*maxArgs + 8 + 8*maxArgs
	// contentSize is probes.c's struct oracle_content_record.
	contentSize = 16 + proto.ContentMax
)

type event struct {
	tid   uint32
	kind  uint16
	set   uint8
	nr    uint64
	args  []uint64
	deref []uint64
	// content is a kindContent record's: what an argument of the call
	// the oracle recorded just before on the thread pointed to.
	content *proto.Content
}

// decodeEvent reads struct ksystest_event (or the oracle's content
// record) in the guest's byte order.
func decodeEvent(raw []byte) (event, error) {
	bo := binary.NativeEndian
	if len(raw) >= 8 && bo.Uint16(raw[4:6]) == kindContent {
		if len(raw) < contentSize {
			return event{}, fmt.Errorf("content record of %d bytes, want %d", len(raw), contentSize)
		}
		ev := event{tid: bo.Uint32(raw[0:4]), kind: kindContent, content: &proto.Content{Arg: raw[6]}}
		n := int(int32(bo.Uint32(raw[8:12])))
		switch {
		case n < 0:
			ev.content.Err = n
		default:
			ev.content.Data = append([]byte{}, raw[16:16+min(n, proto.ContentMax)]...)
		}
		return ev, nil
	}
	if len(raw) < eventSize {
		return event{}, fmt.Errorf("event of %d bytes, want %d", len(raw), eventSize)
	}
	n := int(raw[6])
	if n > maxArgs {
		return event{}, fmt.Errorf("event claims %d arguments", n)
	}
	ev := event{tid: bo.Uint32(raw[0:4]), kind: bo.Uint16(raw[4:6]), set: raw[7], nr: bo.Uint64(raw[8+8*maxArgs:]), args: make([]uint64, n)}
	for i := range ev.args {
		ev.args[i] = bo.Uint64(raw[8+8*i:])
	}
	if ev.kind == kindOracle {
		base := 8 + 8*maxArgs + 8
		ev.deref = make([]uint64, maxArgs)
		for i := range ev.deref {
			ev.deref[i] = bo.Uint64(raw[base+8*i:])
		}
	}
	return ev, nil
}

// Close detaches the oracle and frees the programs and maps; case links
// are closed per case.
func (p *Probes) Close() {
	if p.oracle != nil {
		p.oracle.Close()
	}
	if p.events != nil {
		p.events.Close()
	}
	for _, r := range p.readers {
		r.r.Close()
	}
	for _, prog := range p.progs {
		prog.Close()
	}
	for _, m := range p.maps {
		m.Close()
	}
	if p.owner != nil {
		p.owner.Close()
	}
}
