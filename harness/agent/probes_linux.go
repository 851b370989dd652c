package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/ksystest/ksystest/harness/proto"
)

// Names ksystest.h gives the maps and programs it reads.
const (
	eventsMap     = "ksystest_events"
	targetMap     = "ksystest_target"
	derefMap      = "ksystest_oracle_deref"
	oracleProgram = "oracle_sys_enter"
)

// Probes is one loaded collection (a BPF object: ksystest's own probes or
// a user's), with its ring buffer when it reports through ksystest.h.
type Probes struct {
	Name   string
	coll   *ebpf.Collection
	spec   *ebpf.CollectionSpec
	events *ringbuf.Reader
	// Wrapper is what loading learnt about the syscall wrapper.
	Wrapper proto.Wrapper
	oracle  link.Link
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
}

// KernelTypes loads the BTF at path when it exists: the kernel's own is
// used otherwise.
func KernelTypes(path string) (*btf.Spec, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	spec, err := btf.LoadSpec(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return spec, nil
}

// LoadProbes loads the collection c.
func LoadProbes(c proto.Collection, o LoadOptions) (*Probes, error) {
	spec, err := ebpf.LoadCollectionSpec(c.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.Path, err)
	}
	var opts ebpf.CollectionOptions
	opts.Programs.KernelTypes = o.KernelTypes
	w := proto.Wrapper{Symbols: o.Symbols}
	if o.SymbolsError != "" {
		w.ReadError = "kallsyms: " + o.SymbolsError
	}
	coll, err := loadWithWrapperFallback(spec, opts, &w)
	if err != nil {
		return nil, fmt.Errorf("load %s: %s", c.Name, verifierDetail(err))
	}
	if v, err := readWrapperValue(spec, coll); err != nil {
		w.ReadError = err.Error()
	} else {
		w.Loader = &v
	}
	p := &Probes{Name: c.Name, coll: coll, spec: spec, Wrapper: w}
	if m := coll.Maps[eventsMap]; m != nil {
		if p.events, err = ringbuf.NewReader(m); err != nil {
			coll.Close()
			return nil, fmt.Errorf("open ring buffer of %s: %w", c.Name, err)
		}
	}
	return p, nil
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
	m := p.coll.Maps[targetMap]
	if m == nil {
		return nil
	}
	if err := m.Put(uint32(0), uint32(tid)); err != nil {
		return fmt.Errorf("set probe target: %w", err)
	}
	return nil
}

// Programs lists the loaded programs by name.
func (p *Probes) Programs() []string {
	var names []string
	for name := range p.coll.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Attach attaches the probe called name: the program of that name and
// every program named name__SUFFIX, each where its section says. The
// suffixed programs catch other paths to the same call (socketcall) that
// an arch may not have: they are optional. It returns the symbols (an
// optional one that did not attach marked "(absent)") and a function
// that detaches what did attach; an error says the main program did not.
func (p *Probes) Attach(name string) ([]string, func(), error) {
	if _, ok := p.spec.Programs[name]; !ok {
		return nil, func() {}, fmt.Errorf("%w: %q in %s", ErrNoProbe, name, p.Name)
	}
	progs := []string{name}
	var optional []string
	for pn := range p.spec.Programs {
		if strings.HasPrefix(pn, name+"__") {
			optional = append(optional, pn)
		}
	}
	sort.Strings(optional)
	var (
		links []link.Link
		syms  []string
		err   error
	)
	for _, pn := range append(progs, optional...) {
		sym, l, aerr := p.attachOne(pn)
		switch {
		case aerr == nil:
			links = append(links, l)
			syms = append(syms, sym)
		case pn == name:
			err = aerr
			syms = append(syms, sym)
		default:
			syms = append(syms, sym+" (absent)")
		}
	}
	detach := func() {
		for _, l := range links {
			l.Close()
		}
	}
	return syms, detach, err
}

// ErrNoProbe means the probe objects have no program of that name.
var ErrNoProbe = errors.New("no such probe")

func (p *Probes) attachOne(name string) (string, link.Link, error) {
	ps := p.spec.Programs[name]
	section, target, _ := strings.Cut(ps.SectionName, "/")
	var sym string
	switch section {
	case "ksyscall":
		// cilium/ebpf retries with this arch's wrapper prefix (__x64_…)
		// when the plain symbol does not exist.
		sym = "sys_" + target
	case "kprobe":
		sym = target
	default:
		return "", nil, fmt.Errorf("probe %s: section %q is not ksyscall/ or kprobe/", name, ps.SectionName)
	}
	l, err := link.Kprobe(sym, p.coll.Programs[name], nil)
	if err != nil {
		return sym, nil, fmt.Errorf("attach %s to %s: %w", name, sym, err)
	}
	return sym, l, nil
}

// Drained is what the ring buffer held: probe captures and the syscall
// tracepoint's records.
type Drained struct {
	Captures [][]uint64
	Oracle   []proto.OracleCall
}

// Drain returns every event in the ring buffer, without waiting: the
// probes run inside the syscall and submit before it returns, so its
// events are already there when Drain is called.
func (p *Probes) Drain() (Drained, error) {
	var d Drained
	if p.events == nil {
		return d, nil
	}
	p.events.SetDeadline(time.Now())
	for {
		rec, err := p.events.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return d, nil
		}
		if err != nil {
			return d, fmt.Errorf("read ring buffer: %w", err)
		}
		ev, err := decodeEvent(rec.RawSample)
		if err != nil {
			return d, err
		}
		if ev.kind == kindOracle {
			d.Oracle = append(d.Oracle, proto.OracleCall{NR: int64(ev.nr), Args: ev.args, Deref: nonZero(ev.deref)})
		} else {
			d.Captures = append(d.Captures, ev.args)
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
	prog, ok := p.coll.Programs[oracleProgram]
	if !ok {
		return fmt.Errorf("no %s program", oracleProgram)
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
	m := p.coll.Maps[derefMap]
	if m == nil {
		return fmt.Errorf("%s has no %s map", p.Name, derefMap)
	}
	return m.Put(nr, [4]uint8{arg, words, wordSize, 0})
}

const (
	kindProbe  = 0
	kindOracle = 1
	maxArgs    = 6
	// eventSize is struct ksystest_event (ksystest.h).
	eventSize = 8 + 8*maxArgs + 8 + 8*maxArgs
)

type event struct {
	tid   uint32
	kind  uint16
	set   uint8
	nr    uint64
	args  []uint64
	deref []uint64
}

// decodeEvent reads struct ksystest_event in the guest's byte order.
func decodeEvent(raw []byte) (event, error) {
	if len(raw) < eventSize {
		return event{}, fmt.Errorf("event of %d bytes, want %d", len(raw), eventSize)
	}
	bo := binary.NativeEndian
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

// Close detaches the oracle and frees the maps; case links are closed per
// case.
func (p *Probes) Close() {
	if p.oracle != nil {
		p.oracle.Close()
	}
	if p.events != nil {
		p.events.Close()
	}
	p.coll.Close()
}
