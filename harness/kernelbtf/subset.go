package kernelbtf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Subset returns a BTF blob, in s's byte order, holding every type of s
// whose name is one of names, and every type those refer to (members,
// pointees, array elements, prototypes), renumbered in their original
// order. It is what a loader needs to relocate programs whose CO-RE
// relocations name those types, as bpftool gen min_core_btf makes, but
// wider: whole types, not the members accessed. count is the number of
// types kept.
//
// A type's ID differs from the kernel's in the subset: a program that
// needs kernel type IDs (bpf_core_type_id_kernel, kfuncs, typed ksyms)
// must load against the whole BTF.
func (s *Spec) Subset(names []string) (blob []byte, count int, err error) {
	want := map[string]bool{}
	for _, n := range names {
		if n != "" {
			want[n] = true
		}
	}
	keep := make([]bool, len(s.offsets)+1)
	var stack []uint32
	mark := func(id uint32) {
		if id != 0 && int(id) <= len(s.offsets) && !keep[id] {
			keep[id] = true
			stack = append(stack, id)
		}
	}
	for id := uint32(1); int(id) <= len(s.offsets); id++ {
		if n := s.name(s.w.at(s.offsets[id-1])); n != "" && want[n] {
			mark(id)
		}
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		s.refs(id, func(ref uint32) { mark(ref) })
	}

	// New IDs in the old order.
	newID := make([]uint32, len(s.offsets)+1)
	for id := uint32(1); int(id) <= len(s.offsets); id++ {
		if keep[id] {
			count++
			newID[id] = uint32(count)
		}
	}
	bo := s.ByteOrder()
	strs := newStrings()
	var types bytes.Buffer
	word := make([]byte, 4)
	put := func(v uint32) {
		bo.PutUint32(word, v)
		types.Write(word)
	}
	for id := uint32(1); int(id) <= len(s.offsets); id++ {
		if !keep[id] {
			continue
		}
		off := s.offsets[id-1]
		end := uint32(len(s.w.b))
		if int(id) < len(s.offsets) {
			end = s.offsets[id]
		}
		rec := make([]uint32, 0, (end-off)/4)
		for o := off; o < end; o += 4 {
			rec = append(rec, s.w.at(o))
		}
		if err := s.rewrite(rec, strs, newID); err != nil {
			return nil, 0, fmt.Errorf("btf type %d: %w", id, err)
		}
		for _, v := range rec {
			put(v)
		}
	}

	hdr := make([]byte, headerLen)
	if bo == binary.BigEndian {
		hdr[0], hdr[1] = 0xeb, 0x9f
	} else {
		hdr[0], hdr[1] = 0x9f, 0xeb
	}
	hdr[2] = 1
	bo.PutUint32(hdr[4:], headerLen)
	bo.PutUint32(hdr[8:], 0)
	bo.PutUint32(hdr[12:], uint32(types.Len()))
	bo.PutUint32(hdr[16:], uint32(types.Len()))
	bo.PutUint32(hdr[20:], uint32(strs.buf.Len()))
	out := append(hdr, types.Bytes()...)
	out = append(out, strs.buf.Bytes()...)
	// What we wrote must parse as what we meant.
	check, err := Parse(out)
	if err != nil {
		return nil, 0, fmt.Errorf("subset does not parse: %w", err)
	}
	if check.NumTypes() != count {
		return nil, 0, fmt.Errorf("subset has %d types, want %d", check.NumTypes(), count)
	}
	return out, count, nil
}

// refs calls fn with every type id the record of type id refers to.
func (s *Spec) refs(id uint32, fn func(uint32)) {
	w := s.w
	off := s.offsets[id-1]
	info, sizeType := w.at(off+4), w.at(off+8)
	kind, vlen := info>>24&0x1f, info&0xffff
	x := off + recordLen
	switch kind {
	case kindPtr, kindTypedef, kindVolatile, kindConst, kindRestrict, kindTypeTag, kindVar, kindFunc, kindDeclTag:
		fn(sizeType)
	case kindArray:
		fn(w.at(x))
		fn(w.at(x + 4))
	case kindStruct, kindUnion:
		for m := x; m < x+vlen*12; m += 12 {
			fn(w.at(m + 4))
		}
	case kindFuncProto:
		fn(sizeType)
		for m := x; m < x+vlen*8; m += 8 {
			fn(w.at(m + 4))
		}
	case kindDatasec:
		for m := x; m < x+vlen*12; m += 12 {
			fn(w.at(m))
		}
	}
}

// rewrite renames (into strs) and renumbers (by newID) one record's words
// in place. Every type a kept type refers to is kept, by construction.
func (s *Spec) rewrite(rec []uint32, strs *strtab, newID []uint32) error {
	ref := func(i int) error {
		old := rec[i]
		if old == 0 {
			return nil
		}
		if int(old) >= len(newID) || newID[old] == 0 {
			return fmt.Errorf("refers to type %d, which the subset lacks", old)
		}
		rec[i] = newID[old]
		return nil
	}
	name := func(i int) { rec[i] = strs.add(s.name(rec[i])) }
	info := rec[1]
	kind, vlen := info>>24&0x1f, int(info&0xffff)
	name(0)
	var errs []error
	switch kind {
	case kindPtr, kindTypedef, kindVolatile, kindConst, kindRestrict, kindTypeTag, kindVar, kindFunc, kindDeclTag:
		errs = append(errs, ref(2))
	case kindArray:
		errs = append(errs, ref(3), ref(4))
	case kindStruct, kindUnion:
		for m := 0; m < vlen; m++ {
			name(3 + 3*m)
			errs = append(errs, ref(3+3*m+1))
		}
	case kindFuncProto:
		errs = append(errs, ref(2))
		for m := 0; m < vlen; m++ {
			name(3 + 2*m)
			errs = append(errs, ref(3+2*m+1))
		}
	case kindDatasec:
		for m := 0; m < vlen; m++ {
			errs = append(errs, ref(3+3*m))
		}
	case kindEnum:
		for m := 0; m < vlen; m++ {
			name(3 + 2*m)
		}
	case kindEnum64:
		for m := 0; m < vlen; m++ {
			name(3 + 3*m)
		}
	}
	return errors.Join(errs...)
}

// strtab builds a string section, each string once.
type strtab struct {
	buf bytes.Buffer
	at  map[string]uint32
}

func newStrings() *strtab {
	t := &strtab{at: map[string]uint32{"": 0}}
	t.buf.WriteByte(0)
	return t
}

func (t *strtab) add(s string) uint32 {
	if off, ok := t.at[s]; ok {
		return off
	}
	off := uint32(t.buf.Len())
	t.buf.WriteString(s)
	t.buf.WriteByte(0)
	t.at[s] = off
	return off
}

// Essential is a CO-RE name without its flavour: a program's
// "pt_regs___x86" relocates against the kernel's "pt_regs".
func Essential(name string) string {
	if i := strings.Index(name, "___"); i > 0 {
		return name[:i]
	}
	return name
}

// SortedNames returns names sorted and without repeats.
func SortedNames(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
