package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ksystest/ksystest/harness/proto"
)

// setConstants sets .rodata (const volatile) globals before the maps are
// made: a number, or ${pid} / ${tid} of the thread making the calls.
func setConstants(spec *ebpf.CollectionSpec, consts map[string]string, pid, tid int) error {
	for name, v := range consts {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("constant %s: the object has no global of that name", name)
		}
		if !vs.Constant() {
			return fmt.Errorf("constant %s: not a const volatile global, so it cannot be set before loading", name)
		}
		n, err := placeholder(v, pid, tid)
		if err != nil {
			return fmt.Errorf("constant %s: %w", name, err)
		}
		var setErr error
		switch vs.Size() {
		case 1:
			setErr = vs.Set(uint8(n))
		case 2:
			setErr = vs.Set(uint16(n))
		case 4:
			setErr = vs.Set(uint32(n))
		case 8:
			setErr = vs.Set(n)
		default:
			setErr = fmt.Errorf("%d bytes wide: ksystest sets integers of 1, 2, 4 or 8 bytes", vs.Size())
		}
		if setErr != nil {
			return fmt.Errorf("constant %s: %w", name, setErr)
		}
	}
	return nil
}

// placeholder resolves a constant or map key: a number, ${pid} or
// ${tid}.
func placeholder(v string, pid, tid int) (uint64, error) {
	switch v {
	case "${pid}":
		return uint64(pid), nil
	case "${tid}":
		return uint64(tid), nil
	}
	if strings.HasPrefix(v, "-") {
		n, err := strconv.ParseInt(v, 0, 64)
		return uint64(n), err
	}
	return strconv.ParseUint(v, 0, 64)
}

// snapshotGlobals keeps the first contents of the writable data sections
// (.bss, .data, .data.*), so each case starts from them.
func (p *Probes) snapshotGlobals() error {
	p.globals = map[string][]byte{}
	for name, m := range p.maps {
		if name != ".bss" && name != ".data" && !strings.HasPrefix(name, ".data.") {
			continue
		}
		buf := make([]byte, m.ValueSize())
		if err := m.Lookup(uint32(0), &buf); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		p.globals[name] = buf
	}
	return nil
}

// ResetGlobals puts the writable data sections back as they were loaded.
func (p *Probes) ResetGlobals() error {
	for name, buf := range p.globals {
		if err := p.maps[name].Put(uint32(0), buf); err != nil {
			return fmt.Errorf("reset %s: %w", name, err)
		}
	}
	return nil
}

// ReadSet reads one capture set's globals and map values after a call; a
// global that is an array or a struct is read as content, whole.
func (p *Probes) ReadSet(c proto.Capture, pid, tid int) proto.SetResult {
	var sr proto.SetResult
	for j, a := range c.Args {
		if f, content := p.globalField(a.Global); a.Global != "" && content {
			if sr.Contents == nil {
				sr.Contents, sr.Fields = make([][]byte, len(c.Args)), make([]proto.Field, len(c.Args))
			}
			sr.Fields[j] = f
			b, err := p.readGlobal(p.spec.Variables[a.Global])
			msg := ""
			if err != nil {
				msg = fmt.Sprintf("read global %s: %v", a.Global, err)
			} else {
				sr.Contents[j] = b[:min(len(b), maxFieldContent)]
			}
			sr.Values, sr.Errors = append(sr.Values, nil), append(sr.Errors, msg)
			continue
		}
		v, err := p.read(a, pid, tid)
		if err != nil {
			sr.Values, sr.Errors = append(sr.Values, nil), append(sr.Errors, err.Error())
			continue
		}
		sr.Values, sr.Errors = append(sr.Values, v), append(sr.Errors, "")
	}
	return sr
}

func (p *Probes) read(a proto.CaptureArg, pid, tid int) (*uint64, error) {
	switch {
	case a.Global != "":
		vs, ok := p.spec.Variables[a.Global]
		if !ok {
			return nil, fmt.Errorf("no global %s in %s", a.Global, p.Name)
		}
		buf, err := p.readGlobal(vs)
		if err != nil {
			return nil, fmt.Errorf("read global %s: %w", a.Global, err)
		}
		return widen(buf, signed(vs.Type))
	case a.Map != "":
		m, ok := p.maps[a.Map]
		if !ok {
			return nil, fmt.Errorf("no map %s in %s", a.Map, p.Name)
		}
		k, err := placeholder(a.Key, pid, tid)
		if err != nil {
			return nil, fmt.Errorf("map %s key %q: %w", a.Map, a.Key, err)
		}
		key := make([]byte, m.KeySize())
		if err := putUint(key, k); err != nil {
			return nil, fmt.Errorf("map %s key: %w", a.Map, err)
		}
		val := make([]byte, m.ValueSize())
		if err := m.Lookup(key, &val); errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, fmt.Errorf("map %s has no key %s: the program stored nothing there", a.Map, a.Key)
		} else if err != nil {
			return nil, fmt.Errorf("map %s: %w", a.Map, err)
		}
		size := a.Size
		if size == 0 {
			size = min(len(val)-a.Offset, 8)
		}
		if a.Offset+size > len(val) || size <= 0 {
			return nil, fmt.Errorf("map %s: bytes %d..%d are past its %d-byte value", a.Map, a.Offset, a.Offset+size, len(val))
		}
		return widen(val[a.Offset:a.Offset+size], false)
	}
	return nil, errors.New("not read")
}

// readGlobal reads a global's bytes from its section's map: a lookup,
// which every kernel with BPF globals answers (reading through a
// memory-mapped map needs 5.5), whichever loader made the map.
func (p *Probes) readGlobal(vs *ebpf.VariableSpec) ([]byte, error) {
	m := p.maps[vs.SectionName]
	if m == nil {
		return nil, fmt.Errorf("no map for section %s", vs.SectionName)
	}
	val := make([]byte, m.ValueSize())
	if err := m.Lookup(uint32(0), &val); err != nil {
		return nil, err
	}
	end := int(vs.Offset) + int(vs.Size())
	if end > len(val) {
		return nil, fmt.Errorf("bytes %d..%d are past the section's %d", vs.Offset, end, len(val))
	}
	return val[vs.Offset:end], nil
}

// signed reports whether a global's type is a signed integer (its value
// widens with its sign).
func signed(v *btf.Var) bool {
	if v == nil {
		return false
	}
	var i *btf.Int
	t := btf.UnderlyingType(v.Type)
	if as, ok := t.(*btf.Int); ok {
		i = as
	}
	return i != nil && i.Encoding == btf.Signed
}

// widen reads 1, 2, 4 or 8 bytes in the guest's byte order as a register
// would hold them.
func widen(b []byte, signExtend bool) (*uint64, error) {
	if v := number(b, signExtend); v != nil {
		return v, nil
	}
	return nil, fmt.Errorf("%d bytes: ksystest reads integers of 1, 2, 4 or 8 bytes", len(b))
}

func putUint(b []byte, v uint64) error {
	bo := binary.NativeEndian
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		bo.PutUint16(b, uint16(v))
	case 4:
		bo.PutUint32(b, uint32(v))
	case 8:
		bo.PutUint64(b, v)
	default:
		return fmt.Errorf("%d-byte keys: ksystest writes keys of 1, 2, 4 or 8 bytes", len(b))
	}
	return nil
}

// EnableStats turns on the kernel's BPF run counts, which tell a program
// that never ran from one that ran and reported nothing.
func EnableStats() error {
	return os.WriteFile("/proc/sys/kernel/bpf_stats_enabled", []byte("1\n"), 0)
}

// Runs returns the run count of each loaded program named; nil when the
// kernel keeps none.
func (p *Probes) Runs(names []string) map[string]uint64 {
	out := map[string]uint64{}
	for _, n := range names {
		prog := p.progs[n]
		if prog == nil {
			continue
		}
		st, err := prog.Stats()
		if err != nil {
			return nil
		}
		out[n] = st.RunCount
	}
	return out
}
