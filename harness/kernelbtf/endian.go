package kernelbtf

import (
	"bytes"
	"encoding/binary"
)

// ToLittleEndian re-encodes a big-endian BTF blob as little-endian, for
// tools that read only that (bpftool 7.1 dumping an s390x kernel's
// vmlinux.h). A little-endian blob is returned as is; a blob that does not
// parse is an error. The string section is bytes, so it stays; the header
// after its magic, version and flags, and the whole type section, are
// 32-bit words (every record, and every vlen entry after it, is made of
// them, ENUM64 values included as two halves), so each word is swapped.
func ToLittleEndian(data []byte) ([]byte, error) {
	s, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if !s.w.be {
		return data, nil
	}
	h, _ := readHeader(data) // Parse has checked it
	out := bytes.Clone(data)
	binary.LittleEndian.PutUint16(out, 0xeb9f)
	swap := func(from, to uint32) {
		for off := from; off < to; off += 4 {
			binary.LittleEndian.PutUint32(out[off:], binary.BigEndian.Uint32(out[off:]))
		}
	}
	swap(4, headerLen) // a longer header's further fields are zero
	start := h.hdrLen + h.typeOff
	swap(start, start+h.typeLen)
	return out, nil
}
