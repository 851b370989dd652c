package kernelbtf

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
)

// CO-RE relocation kinds that need the kernel's own type IDs
// (enum bpf_core_relo_kind): a subset renumbers types.
const (
	coreTypeIDTarget = 7
)

// Relocations is what a BPF object's CO-RE relocations ask of a kernel's
// BTF: the (essential) names of the types they relocate against, and
// whether any needs the kernel's own type IDs.
type Relocations struct {
	Names []string
	// NeedsIDs: a relocation takes a kernel type ID, or the object has
	// extern functions or typed ksyms (kfuncs), which the kernel checks
	// against its own BTF IDs.
	NeedsIDs bool
	Count    int
}

// Limits on an object's input: it comes from a user's build.
const maxRelocs = 1 << 20

// ObjectRelocations reads the CO-RE relocations of a BPF ELF object.
func ObjectRelocations(obj []byte) (*Relocations, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, fmt.Errorf("bpf object: %w", err)
	}
	defer f.Close()
	r := &Relocations{}
	if sec := f.Section(".ksyms"); sec != nil {
		r.NeedsIDs = true
	}
	btfSec, extSec := f.Section(".BTF"), f.Section(".BTF.ext")
	if btfSec == nil || extSec == nil {
		return r, nil // no BTF: no CO-RE
	}
	btfData, err := btfSec.Data()
	if err != nil {
		return nil, fmt.Errorf(".BTF: %w", err)
	}
	spec, err := Parse(btfData)
	if err != nil {
		return nil, fmt.Errorf(".BTF: %w", err)
	}
	ext, err := extSec.Data()
	if err != nil {
		return nil, fmt.Errorf(".BTF.ext: %w", err)
	}
	bo := spec.ByteOrder()
	if len(ext) < 8 {
		return nil, errors.New(".BTF.ext: truncated header")
	}
	hdrLen := bo.Uint32(ext[4:])
	if hdrLen < 32 || uint64(hdrLen) > uint64(len(ext)) {
		return r, nil // no CO-RE relocation section in this header
	}
	off, n := bo.Uint32(ext[24:]), bo.Uint32(ext[28:])
	start := uint64(hdrLen) + uint64(off)
	if start+uint64(n) > uint64(len(ext)) {
		return nil, errors.New(".BTF.ext: CO-RE relocations out of range")
	}
	relos := ext[start : start+uint64(n)]
	if len(relos) == 0 {
		return r, nil
	}
	if len(relos) < 4 {
		return nil, errors.New(".BTF.ext: CO-RE relocations truncated")
	}
	recSize := bo.Uint32(relos)
	if recSize < 16 || recSize > 1024 {
		return nil, fmt.Errorf(".BTF.ext: CO-RE record size %d", recSize)
	}
	var names []string
	for p := uint64(4); p < uint64(len(relos)); {
		if p+8 > uint64(len(relos)) {
			return nil, errors.New(".BTF.ext: CO-RE section truncated")
		}
		count := uint64(bo.Uint32(relos[p+4:]))
		p += 8
		if count > maxRelocs || p+count*uint64(recSize) > uint64(len(relos)) {
			return nil, errors.New(".BTF.ext: CO-RE records out of range")
		}
		for i := uint64(0); i < count; i++ {
			rec := relos[p+i*uint64(recSize):]
			typeID, kind := bo.Uint32(rec[4:]), bo.Uint32(rec[12:])
			r.Count++
			if kind == coreTypeIDTarget {
				r.NeedsIDs = true
			}
			names = append(names, spec.rootNames(typeID)...)
		}
		p += count * uint64(recSize)
	}
	r.Names = SortedNames(names)
	return r, nil
}

// rootNames are the essential names a relocation against type id looks
// up in a kernel: the type's own, or, through typedefs, modifiers and
// pointers, the first named one's.
func (s *Spec) rootNames(id uint32) []string {
	var out []string
	for depth := 0; depth < 32 && id != 0 && int(id) <= len(s.offsets); depth++ {
		off := s.offsets[id-1]
		if n := s.name(s.w.at(off)); n != "" {
			out = append(out, Essential(n))
		}
		switch s.kind(id) {
		case kindTypedef, kindVolatile, kindConst, kindRestrict, kindTypeTag, kindPtr:
			id = s.w.at(off + 8)
		case kindArray:
			id = s.w.at(off + recordLen)
		default:
			return out
		}
	}
	return out
}
