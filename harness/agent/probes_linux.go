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
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/ksystest/ksystest/bpf"
)

// Probes is the loaded probe collection and its ring buffer.
type Probes struct {
	coll   *ebpf.Collection
	spec   *ebpf.CollectionSpec
	events *ringbuf.Reader
}

// LoadProbes loads every probe.
func LoadProbes() (*Probes, error) {
	spec, err := bpf.Spec()
	if err != nil {
		return nil, fmt.Errorf("read probe objects: %w", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, fmt.Errorf("load probes: %s", verifierDetail(err))
	}
	rd, err := ringbuf.NewReader(coll.Maps[bpf.EventsMap])
	if err != nil {
		coll.Close()
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return &Probes{coll: coll, spec: spec, events: rd}, nil
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
// every program named name__SUFFIX, each where its section says. It
// returns the symbols asked for and a function that detaches what did
// attach; an error says what did not, and the rest stay attached.
func (p *Probes) Attach(name string) ([]string, func(), error) {
	var progs []string
	for pn := range p.spec.Programs {
		if pn == name || strings.HasPrefix(pn, name+"__") {
			progs = append(progs, pn)
		}
	}
	if len(progs) == 0 {
		return nil, func() {}, fmt.Errorf("%w: %q", ErrNoProbe, name)
	}
	sort.Strings(progs)
	var (
		links []link.Link
		syms  []string
		errs  []error
	)
	for _, pn := range progs {
		sym, l, err := p.attachOne(pn)
		syms = append(syms, sym)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		links = append(links, l)
	}
	detach := func() {
		for _, l := range links {
			l.Close()
		}
	}
	return syms, detach, errors.Join(errs...)
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

// Drain returns the argument rows of every event in the ring buffer,
// without waiting: the probes run inside the syscall and submit before it
// returns, so its events are already there when Drain is called.
func (p *Probes) Drain() ([][]uint64, error) {
	var rows [][]uint64
	p.events.SetDeadline(time.Now())
	for {
		rec, err := p.events.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return rows, nil
		}
		if err != nil {
			return rows, fmt.Errorf("read ring buffer: %w", err)
		}
		row, err := decodeEvent(rec.RawSample)
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
}

// decodeEvent reads struct event from probes.c in the guest's byte order.
func decodeEvent(raw []byte) ([]uint64, error) {
	const maxArgs = 6
	if len(raw) < 8+8*maxArgs {
		return nil, fmt.Errorf("event of %d bytes, want %d", len(raw), 8+8*maxArgs)
	}
	bo := binary.NativeEndian
	n := bo.Uint32(raw[4:8])
	if n > maxArgs {
		return nil, fmt.Errorf("event claims %d arguments", n)
	}
	row := make([]uint64, n)
	for i := range row {
		row[i] = bo.Uint64(raw[8+8*i:])
	}
	return row, nil
}

// Close detaches nothing (links are closed per case) and frees the maps.
func (p *Probes) Close() {
	p.events.Close()
	p.coll.Close()
}
