package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
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

// LoadProbes loads every probe, telling them which thread to watch.
func LoadProbes(tid int) (*Probes, error) {
	spec, err := bpf.Spec()
	if err != nil {
		return nil, fmt.Errorf("read probe objects: %w", err)
	}
	v, ok := spec.Variables[bpf.TargetTIDVar]
	if !ok {
		return nil, fmt.Errorf("probe objects lack %s", bpf.TargetTIDVar)
	}
	if err := v.Set(uint32(tid)); err != nil {
		return nil, fmt.Errorf("set %s: %w", bpf.TargetTIDVar, err)
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

// Programs lists the loaded programs by name.
func (p *Probes) Programs() []string {
	var names []string
	for name := range p.coll.Programs {
		names = append(names, name)
	}
	return names
}

// Attach attaches the named program where its section says and returns the
// symbol asked for and a function that detaches it.
func (p *Probes) Attach(name string) (string, func(), error) {
	ps, ok := p.spec.Programs[name]
	if !ok {
		return "", nil, fmt.Errorf("no probe named %q", name)
	}
	section, target, _ := strings.Cut(ps.SectionName, "/")
	var (
		l   link.Link
		err error
		sym string
	)
	switch section {
	case "ksyscall":
		// cilium/ebpf retries with this arch's wrapper prefix (__x64_…)
		// when the plain symbol does not exist.
		sym = "sys_" + target
		l, err = link.Kprobe(sym, p.coll.Programs[name], nil)
	case "kprobe":
		sym = target
		l, err = link.Kprobe(sym, p.coll.Programs[name], nil)
	default:
		return "", nil, fmt.Errorf("probe %s: section %q is not ksyscall/ or kprobe/", name, ps.SectionName)
	}
	if err != nil {
		return sym, nil, fmt.Errorf("attach %s to %s: %w", name, sym, err)
	}
	return sym, func() { l.Close() }, nil
}

// Drain returns the argument rows of every event in the ring buffer. The
// probes run inside the syscall, so by the time it returns its events are
// there; the short deadline only bounds the wait for an empty ring.
func (p *Probes) Drain() ([][]uint64, error) {
	var rows [][]uint64
	p.events.SetDeadline(time.Now().Add(50 * time.Millisecond))
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
