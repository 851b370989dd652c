// Package kernelbtf reads a kernel's BTF on the host: it finds the .BTF blob in
// a boot image, parses it strictly in either byte order, tells which
// parameter names a function's prototype has, and re-encodes big-endian
// BTF as little-endian for tools that read only that. Its input is
// untrusted (a cache file may be corrupted): any bytes give a result or an
// error, never a panic, and work and memory stay proportional to the input.
// It imports nothing from the project, and must never link
// github.com/cilium/ebpf: the host binary stays free of it.
package kernelbtf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// BTF layout, from include/uapi/linux/btf.h.
const (
	headerLen  = 24
	recordLen  = 12      // struct btf_type: name_off, info, size or type
	maxTypes   = 0xfffff // BTF_MAX_TYPE
	infoUnused = 0x60ff0000
)

// Kinds of BTF types (BTF_KIND_*).
const (
	kindInt = iota + 1
	kindPtr
	kindArray
	kindStruct
	kindUnion
	kindEnum
	kindFwd
	kindTypedef
	kindVolatile
	kindConst
	kindRestrict
	kindFunc
	kindFuncProto
	kindVar
	kindDatasec
	kindFloat
	kindDeclTag
	kindTypeTag
	kindEnum64
	numKinds
)

var kindNames = [numKinds]string{
	"UNKN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF",
	"VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC",
	"FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64",
}

// shape is how many bytes follow a kind's btf_type: extra once, then
// member bytes per vlen entry. Kinds without members must have vlen 0,
// except FUNC, whose vlen is its linkage.
var shapes = [numKinds]struct{ extra, member int }{
	kindInt:       {4, 0},
	kindArray:     {12, 0},
	kindStruct:    {0, 12},
	kindUnion:     {0, 12},
	kindEnum:      {0, 8},
	kindFuncProto: {0, 8},
	kindVar:       {4, 0},
	kindDatasec:   {0, 12},
	kindDeclTag:   {4, 0},
	kindEnum64:    {0, 12},
}

// Spec is a parsed BTF blob. It is immutable, so safe for concurrent use.
type Spec struct {
	w       words
	strs    []byte
	offsets []uint32 // offsets[id-1]: where type id starts in w
	funcs   []uint32 // ids of the FUNC types, ascending
}

// words reads the 32-bit words every BTF record is made of.
type words struct {
	b  []byte
	be bool
}

func (w words) at(off uint32) uint32 {
	b := w.b[off : off+4]
	if w.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// header is a checked struct btf_header.
type header struct {
	be                                       bool
	hdrLen, typeOff, typeLen, strOff, strLen uint32
}

// size is the length of the blob the header describes.
func (h header) size() uint64 {
	return uint64(h.hdrLen) + max(uint64(h.typeOff)+uint64(h.typeLen), uint64(h.strOff)+uint64(h.strLen))
}

// readHeader checks the header at the start of data and the layout of its
// two sections, but not that data holds them.
func readHeader(data []byte) (header, error) {
	var h header
	if len(data) < headerLen {
		return h, fmt.Errorf("btf header: %d bytes, want %d", len(data), headerLen)
	}
	switch {
	case data[0] == 0x9f && data[1] == 0xeb:
	case data[0] == 0xeb && data[1] == 0x9f:
		h.be = true
	default:
		return h, fmt.Errorf("btf header: bad magic % x", data[:2])
	}
	if data[2] != 1 {
		return h, fmt.Errorf("btf header: version %d, want 1", data[2])
	}
	if data[3] != 0 {
		return h, fmt.Errorf("btf header: flags %#x, want 0", data[3])
	}
	w := words{data, h.be}
	h.hdrLen, h.typeOff, h.typeLen, h.strOff, h.strLen = w.at(4), w.at(8), w.at(12), w.at(16), w.at(20)
	if h.hdrLen < headerLen || uint64(h.hdrLen) > uint64(len(data)) {
		return h, fmt.Errorf("btf header: length %d out of range", h.hdrLen)
	}
	// A newer header may carry more fields; like the kernel, accept it
	// only when they are all zero.
	for _, b := range data[headerLen:h.hdrLen] {
		if b != 0 {
			return h, errors.New("btf header: unknown fields set")
		}
	}
	if h.typeOff%4 != 0 || h.typeLen%4 != 0 {
		return h, fmt.Errorf("btf header: type section %d+%d not 4-byte aligned", h.typeOff, h.typeLen)
	}
	typeEnd, strEnd := uint64(h.typeOff)+uint64(h.typeLen), uint64(h.strOff)+uint64(h.strLen)
	if typeEnd > uint64(h.strOff) && strEnd > uint64(h.typeOff) {
		return h, errors.New("btf header: type and string sections overlap")
	}
	if uint64(h.typeLen)+uint64(h.strLen) != max(typeEnd, strEnd) {
		return h, errors.New("btf header: gap between sections")
	}
	return h, nil
}

// Parse checks a BTF blob (exactly as long as its header says) and indexes
// its types. It reads every record once; prototypes are decoded only when
// asked for. The Spec keeps data: do not change it afterwards.
func Parse(data []byte) (*Spec, error) {
	h, err := readHeader(data)
	if err != nil {
		return nil, err
	}
	if size := h.size(); uint64(len(data)) != size {
		return nil, fmt.Errorf("btf is %d bytes, its header says %d", len(data), size)
	}
	body := data[h.hdrLen:]
	s := &Spec{
		w:    words{body[h.typeOff : h.typeOff+h.typeLen], h.be},
		strs: body[h.strOff : h.strOff+h.strLen],
	}
	if len(s.strs) == 0 || s.strs[0] != 0 || s.strs[len(s.strs)-1] != 0 {
		return nil, errors.New("btf strings: must start and end with NUL")
	}
	if err := s.index(); err != nil {
		return nil, err
	}
	return s, nil
}

// index records where each type starts, checking each record as it goes.
// Type references may point forward, so they are checked at the end
// against the highest one seen.
func (s *Spec) index() error {
	w := s.w
	end := uint32(len(w.b))
	s.offsets = make([]uint32, 0, end/32)
	var maxRef, maxRefBy uint32
	ref := func(id, by uint32) {
		if id > maxRef {
			maxRef, maxRefBy = id, by
		}
	}
	for off := uint32(0); off < end; {
		id := uint32(len(s.offsets)) + 1
		if id > maxTypes {
			return fmt.Errorf("btf: more than %d types", maxTypes)
		}
		if end-off < recordLen {
			return fmt.Errorf("btf type %d: truncated", id)
		}
		nameOff, info, sizeType := w.at(off), w.at(off+4), w.at(off+8)
		kind, vlen := info>>24&0x1f, info&0xffff
		if kind == 0 || kind >= numKinds {
			return fmt.Errorf("btf type %d: unknown kind %d", id, kind)
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("btf type %d (%s): %s", id, kindNames[kind], fmt.Sprintf(format, args...))
		}
		if info&infoUnused != 0 {
			return fail("unused info bits set (%#x)", info)
		}
		shape := shapes[kind]
		if shape.member == 0 && vlen != 0 && !(kind == kindFunc && vlen <= 2) {
			return fail("vlen %d", vlen)
		}
		n := uint64(recordLen) + uint64(shape.extra) + uint64(shape.member)*uint64(vlen)
		if uint64(end-off) < n {
			return fail("truncated")
		}
		if !s.validName(nameOff) {
			return fail("name offset %d out of range", nameOff)
		}
		x := off + recordLen // the bytes after struct btf_type
		switch kind {
		case kindInt:
			enc := w.at(x)
			bits, bitOff := enc&0xff, enc>>16&0xff
			if enc&0xf000ff00 != 0 || !oneOf(enc>>24, 0, 1, 2, 4) {
				return fail("bad encoding %#x", enc)
			}
			if !oneOf(sizeType, 1, 2, 4, 8, 16) || bits+bitOff > sizeType*8 {
				return fail("%d bits at %d in %d bytes", bits, bitOff, sizeType)
			}
		case kindPtr, kindTypedef, kindVolatile, kindConst, kindRestrict, kindTypeTag:
			ref(sizeType, id)
		case kindVar:
			ref(sizeType, id)
			if w.at(x) > 2 {
				return fail("linkage %d", w.at(x))
			}
		case kindArray:
			if sizeType != 0 {
				return fail("size %d, want 0", sizeType)
			}
			ref(w.at(x), id)
			ref(w.at(x+4), id)
		case kindStruct, kindUnion, kindDatasec, kindFuncProto:
			// Members are (name, type, offset), params (name, type),
			// section entries (type, offset, size).
			step, typeAt := uint32(12), uint32(4)
			if kind == kindFuncProto {
				step = 8
				ref(sizeType, id)
			}
			if kind == kindDatasec {
				typeAt = 0
			}
			for m := x; m < x+vlen*step; m += step {
				if kind != kindDatasec && !s.validName(w.at(m)) {
					return fail("member %d name offset %d out of range", (m-x)/step, w.at(m))
				}
				ref(w.at(m+typeAt), id)
			}
		case kindEnum, kindEnum64:
			if !oneOf(sizeType, 1, 2, 4, 8) {
				return fail("size %d", sizeType)
			}
			step := uint32(shape.member)
			for m := x; m < x+vlen*step; m += step {
				if !s.validName(w.at(m)) {
					return fail("value %d name offset %d out of range", (m-x)/step, w.at(m))
				}
			}
		case kindFwd:
			if sizeType != 0 {
				return fail("type %d, want 0", sizeType)
			}
		case kindFunc:
			ref(sizeType, id)
			s.funcs = append(s.funcs, id)
		case kindFloat:
			if !oneOf(sizeType, 2, 4, 8, 12, 16) {
				return fail("size %d", sizeType)
			}
		case kindDeclTag:
			ref(sizeType, id)
			if int32(w.at(x)) < -1 {
				return fail("component %d", int32(w.at(x)))
			}
		}
		s.offsets = append(s.offsets, off)
		off += uint32(n)
	}
	if maxRef > uint32(len(s.offsets)) {
		return fmt.Errorf("btf type %d: refers to type %d, only %d exist", maxRefBy, maxRef, len(s.offsets))
	}
	for _, id := range s.funcs {
		if proto := s.w.at(s.offsets[id-1] + 8); s.kind(proto) != kindFuncProto {
			return fmt.Errorf("btf type %d (FUNC): type %d is %s, want FUNC_PROTO", id, proto, kindNames[s.kind(proto)])
		}
	}
	return nil
}

func oneOf(v uint32, set ...uint32) bool {
	for _, x := range set {
		if v == x {
			return true
		}
	}
	return false
}

func (s *Spec) validName(off uint32) bool { return uint64(off) < uint64(len(s.strs)) }

// kind is the kind of type id; 0 (UNKN) for void.
func (s *Spec) kind(id uint32) uint32 {
	if id == 0 {
		return 0
	}
	return s.w.at(s.offsets[id-1]+4) >> 24 & 0x1f
}

// name is the string at off, which validName has accepted: the section
// ends with NUL, so every offset in it starts a string.
func (s *Spec) name(off uint32) string {
	b := s.strs[off:]
	return string(b[:bytes.IndexByte(b, 0)])
}

// ByteOrder is the byte order the BTF was written in.
func (s *Spec) ByteOrder() binary.ByteOrder {
	if s.w.be {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// NumTypes is the number of types, not counting void (id 0).
func (s *Spec) NumTypes() int { return len(s.offsets) }
