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
	"github.com/ksystest/ksystest/bpf"
	"github.com/ksystest/ksystest/harness/proto"
)

// Probes is the loaded probe collection and its ring buffer.
type Probes struct {
	coll   *ebpf.Collection
	spec   *ebpf.CollectionSpec
	events *ringbuf.Reader
	// Wrapper is what loading learnt about the syscall wrapper.
	Wrapper proto.Wrapper
	oracle  link.Link
}

// LoadProbes loads every probe, against the BTF at btfPath when the
// kernel has none of its own (btfPath does not exist otherwise).
func LoadProbes(btfPath string) (*Probes, error) {
	spec, err := bpf.Spec()
	if err != nil {
		return nil, fmt.Errorf("read probe objects: %w", err)
	}
	var opts ebpf.CollectionOptions
	if _, err := os.Stat(btfPath); err == nil {
		kernelTypes, err := btf.LoadSpec(btfPath)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", btfPath, err)
		}
		opts.Programs.KernelTypes = kernelTypes
	}
	var w proto.Wrapper
	var serr error
	if w.Symbols, serr = wrapperSymbols(); serr != nil {
		w.ReadError = "kallsyms: " + serr.Error()
	}
	coll, err := loadWithWrapperFallback(spec, opts, &w)
	if err != nil {
		return nil, fmt.Errorf("load probes: %s", verifierDetail(err))
	}
	if v, err := readWrapperValue(spec, coll); err != nil {
		w.ReadError = err.Error()
	} else {
		w.Loader = &v
	}
	rd, err := ringbuf.NewReader(coll.Maps[bpf.EventsMap])
	if err != nil {
		coll.Close()
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return &Probes{coll: coll, spec: spec, events: rd, Wrapper: w}, nil
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
	if err := p.coll.Maps[bpf.TargetMap].Put(uint32(0), uint32(tid)); err != nil {
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
		return nil, func() {}, fmt.Errorf("%w: %q", ErrNoProbe, name)
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
			d.Oracle = append(d.Oracle, proto.OracleCall{NR: int64(ev.nr), Args: ev.args})
		} else {
			d.Captures = append(d.Captures, ev.args)
		}
	}
}

// AttachOracle attaches the raw_syscalls/sys_enter program for good.
func (p *Probes) AttachOracle() error {
	prog, ok := p.coll.Programs[bpf.OracleProgram]
	if !ok {
		return fmt.Errorf("no %s program", bpf.OracleProgram)
	}
	l, err := link.Tracepoint("raw_syscalls", "sys_enter", prog, nil)
	if err != nil {
		return fmt.Errorf("raw_syscalls/sys_enter unavailable: %w", err)
	}
	p.oracle = l
	return nil
}

const (
	kindProbe  = 0
	kindOracle = 1
)

type event struct {
	kind uint16
	nr   uint64
	args []uint64
}

// decodeEvent reads struct event from probes.c in the guest's byte order.
func decodeEvent(raw []byte) (event, error) {
	const maxArgs = 6
	const size = 8 + 8*maxArgs + 8
	if len(raw) < size {
		return event{}, fmt.Errorf("event of %d bytes, want %d", len(raw), size)
	}
	bo := binary.NativeEndian
	n := bo.Uint16(raw[4:6])
	if n > maxArgs {
		return event{}, fmt.Errorf("event claims %d arguments", n)
	}
	ev := event{kind: bo.Uint16(raw[6:8]), nr: bo.Uint64(raw[8+8*maxArgs:]), args: make([]uint64, n)}
	for i := range ev.args {
		ev.args[i] = bo.Uint64(raw[8+8*i:])
	}
	return ev, nil
}

// Close detaches nothing (links are closed per case) and frees the maps.
func (p *Probes) Close() {
	if p.oracle != nil {
		p.oracle.Close()
	}
	p.events.Close()
	p.coll.Close()
}
