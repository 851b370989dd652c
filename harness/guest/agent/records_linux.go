package agent

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ksystest/ksystest/harness/proto"
)

// maxCaseRecords bounds the records kept for one case's call: a program
// that writes more for one call than this is past judging one by one.
const maxCaseRecords = 32

// records is a user's ring buffer or perf event array, read as its
// records come: the reader, and what the kernel lost on the way.
type records struct {
	r    eventReader
	lost uint64
}

// recordReader returns the reader of the collection's map called name, a
// ring buffer or a perf event array, made the first time it is asked for.
func (p *Probes) recordReader(name string) (*records, error) {
	if r := p.readers[name]; r != nil {
		return r, nil
	}
	m := p.maps[name]
	if m == nil {
		return nil, fmt.Errorf("no map %s in %s", name, p.Name)
	}
	if m.Type() != ebpf.RingBuf && m.Type() != ebpf.PerfEventArray {
		return nil, fmt.Errorf("map %s is a %s, not a ring buffer or a perf event array", name, m.Type())
	}
	er, err := newEventReader(m)
	if err != nil {
		return nil, fmt.Errorf("read map %s: %w", name, err)
	}
	if p.readers == nil {
		p.readers = map[string]*records{}
	}
	r := &records{r: er}
	p.readers[name] = r
	return r, nil
}

// read returns the raw records there are, waiting for more until
// deadline; at most max are kept, the rest counted in dropped.
func (r *records) read(deadline time.Time, max int) (raw [][]byte, dropped int, err error) {
	r.r.SetDeadline(deadline)
	for {
		b, lost, err := r.r.next()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return raw, dropped, nil
		}
		if err != nil {
			return raw, dropped, err
		}
		if lost > 0 {
			r.lost += lost
			continue
		}
		if len(raw) >= max {
			dropped++
		} else {
			raw = append(raw, append([]byte{}, b...))
		}
		// Return what there is as soon as the buffer is empty.
		r.r.SetDeadline(time.Now())
	}
}

// DrainRecords empties the maps the case's record sets read, so that what
// an earlier call left is not this one's.
func (p *Probes) DrainRecords(c proto.Case) error {
	for _, capt := range c.Captures {
		if capt.Events == "" {
			continue
		}
		r, err := p.recordReader(capt.Events)
		if err != nil {
			continue // said when the set is read
		}
		if _, _, err := r.read(time.Now(), 0); err != nil {
			return fmt.Errorf("read %s: %w", capt.Events, err)
		}
	}
	return nil
}

// ReadRecords reads the records a set's program wrote for the call, and
// where each argument's field is in them.
func (p *Probes) ReadRecords(c proto.Capture) proto.SetResult {
	var sr proto.SetResult
	dec, err := p.recordDecoder(c)
	sr.Fields = dec.fields
	if err != nil {
		sr.Error = err.Error()
		return sr
	}
	r, err := p.recordReader(c.Events)
	if err != nil {
		sr.Error = err.Error()
		return sr
	}
	lost := r.lost
	raw, dropped, err := r.read(time.Now(), maxCaseRecords)
	if err != nil {
		sr.Error = fmt.Sprintf("read %s: %v", c.Events, err)
	}
	for _, b := range raw {
		rec, ok := dec.decode(b)
		if !ok {
			sr.Unselected++
			continue
		}
		sr.Records = append(sr.Records, rec)
	}
	sr.Lost = dropped + int(r.lost-lost)
	return sr
}

// recordDecoder reads a capture set's records: where each argument's
// field is, which field holds the thread, and which records the set
// selects.
type recordDecoder struct {
	fields []proto.Field
	thread *proto.Field
	sel    selection
}

// recordDecoder finds the set's record struct and its fields in the
// object's BTF; fields are returned with what was found even on error.
func (p *Probes) recordDecoder(c proto.Capture) (recordDecoder, error) {
	var d recordDecoder
	s, err := recordType(p.spec.Types, c.Record)
	if err != nil {
		return d, err
	}
	if d.fields, d.thread, err = layout(s, c); err != nil {
		return d, err
	}
	d.sel, err = selectionOf(s, c.Select)
	return d, err
}

// decode decodes a raw record; ok is false when the set does not select
// it.
func (d recordDecoder) decode(raw []byte) (proto.Record, bool) {
	if !d.sel.selects(raw) {
		return proto.Record{}, false
	}
	return decodeRecord(raw, d.fields, d.thread), true
}

// globalField says what a global is: a number, or content (an array or a
// struct: a string or a socket address the program copied).
func (p *Probes) globalField(name string) (proto.Field, bool) {
	vs, ok := p.spec.Variables[name]
	if !ok || vs.Type == nil {
		return proto.Field{}, false
	}
	f := proto.Field{Type: typeName(vs.Type.Type), Offset: int(vs.Offset), Size: int(vs.Size())}
	if _, ok := membersOf(vs.Type.Type); ok {
		f.Content = true
	}
	if _, ok := underlyingArray(vs.Type.Type); ok {
		f.Content = true
	}
	return f, f.Content
}
