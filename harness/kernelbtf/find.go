package kernelbtf

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ErrNoBTF means an image holds no BTF that Find can reach: the kernel was
// built without CONFIG_DEBUG_INFO_BTF, or its BTF is in a stream this
// package does not decode (such as xz with a branch filter, as x86 and arm
// bzImages/zImages use).
var ErrNoBTF = errors.New("no BTF in the image")

// Found is a kernel's BTF and where Find found it.
type Found struct {
	// BTF is the blob, as long as its header says. It shares memory with
	// the image, or with the stream decoded from it.
	BTF   []byte
	Spec  *Spec
	Where Location
}

// Location is where a blob lay in an image.
type Location struct {
	// Container is "" for a blob in the image's own bytes, "elf" for an
	// ELF .BTF section, else the compression of the stream it was in:
	// "gzip", "xz" or "zstd".
	Container string
	// Stream is where the compressed stream starts in the image, when
	// there is one.
	Stream int
	// Offset is where the blob starts: in the image, or in the stream
	// once decoded.
	Offset int
}

func (l Location) String() string {
	switch l.Container {
	case "":
		return fmt.Sprintf("offset %d", l.Offset)
	case "elf":
		return fmt.Sprintf("ELF section .BTF at offset %d", l.Offset)
	}
	return fmt.Sprintf("offset %d of the %s stream at %d", l.Offset, l.Container, l.Stream)
}

// Bounds on the work Find does for an image, whatever its bytes.
const (
	// maxDecoded bounds the bytes decoded from all streams of an image:
	// a compressed kernel is tens of MB.
	maxDecoded = 512 << 20
	// maxStreams bounds the decode attempts per compression: a magic is
	// short, so a kernel has a few false ones in its code.
	maxStreams = 64
	// maxCandidates bounds the headers parsed in one buffer: the 12-byte
	// pattern rarely occurs by chance, so these are few too.
	maxCandidates = 16
)

// Find returns the BTF in a kernel boot image. The image may be the blob
// itself (what pahole --btf_encode_detached writes), an ELF with a .BTF
// section (vmlinux), an image with the blob in its bytes (the arm64 Image),
// or one with a gzip, xz or zstd stream holding it (the s390x bzImage).
// An image without BTF gives ErrNoBTF.
func Find(image []byte) (*Found, error) {
	return find(image, maxDecoded)
}

// find is Find with a bound on the bytes decoded, which fuzzing lowers.
func find(image []byte, budget int) (*Found, error) {
	if f, err := fromELF(image); f != nil || err != nil {
		return f, err
	}
	if f := scan(image); f != nil {
		return f, nil
	}
	for _, s := range streams(image) {
		if budget <= 0 {
			break
		}
		out := decode(s.format, image[s.offset:], budget)
		budget -= len(out)
		if f := scan(out); f != nil {
			f.Where.Container, f.Where.Stream = s.format, s.offset
			return f, nil
		}
	}
	return nil, ErrNoBTF
}

// fromELF returns the .BTF section of an ELF image; nothing when the image
// is no ELF, or has no such section, so that the caller scans its bytes.
func fromELF(image []byte) (*Found, error) {
	if !bytes.HasPrefix(image, []byte(elf.ELFMAG)) {
		return nil, nil
	}
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return nil, nil
	}
	sec := f.Section(".BTF")
	if sec == nil || sec.Type == elf.SHT_NOBITS || sec.Flags&elf.SHF_COMPRESSED != 0 {
		return nil, nil
	}
	if sec.Offset > uint64(len(image)) || sec.Size > uint64(len(image))-sec.Offset {
		return nil, fmt.Errorf("ELF section .BTF: %d bytes at %d, beyond the file", sec.Size, sec.Offset)
	}
	blob := image[sec.Offset : sec.Offset+sec.Size]
	spec, err := Parse(blob)
	if err != nil {
		return nil, fmt.Errorf("ELF section .BTF: %w", err)
	}
	return &Found{BTF: blob, Spec: spec, Where: Location{Container: "elf", Offset: int(sec.Offset)}}, nil
}

// Headers of a BTF blob as pahole and the kernel's build write them: magic,
// version 1, flags 0, hdr_len 24, type_off 0.
var patterns = [][]byte{
	{0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0},
	{0xeb, 0x9f, 1, 0, 0, 0, 0, 24, 0, 0, 0, 0},
}

// scan returns the largest valid blob in buf, in either byte order. The
// largest, because an image might carry a small BTF of its own (a BPF
// program built into the kernel) besides the kernel's.
func scan(buf []byte) *Found {
	var best *Found
	tries := 0
	for _, pat := range patterns {
		for i := 0; tries < maxCandidates; {
			j := bytes.Index(buf[i:], pat)
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			h, err := readHeader(buf[at:])
			if err != nil || h.size() > uint64(len(buf)-at) {
				continue
			}
			tries++
			blob := buf[at : at+int(h.size())]
			spec, err := Parse(blob)
			if err != nil {
				continue
			}
			if best == nil || len(blob) > len(best.BTF) {
				best = &Found{BTF: blob, Spec: spec, Where: Location{Offset: at}}
			}
			i = at + len(blob)
		}
	}
	return best
}

type stream struct {
	format string
	offset int
}

var magics = []struct {
	format string
	magic  []byte
}{
	{"gzip", []byte{0x1f, 0x8b, 8}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// streams lists where a compressed stream may start, in image order.
func streams(image []byte) []stream {
	var all []stream
	for _, m := range magics {
		for i, n := 0, 0; n < maxStreams; n++ {
			j := bytes.Index(image[i:], m.magic)
			if j < 0 {
				break
			}
			all = append(all, stream{m.format, i + j})
			i += j + 1
		}
	}
	slices.SortFunc(all, func(a, b stream) int { return cmp.Compare(a.offset, b.offset) })
	return all
}

// decode returns what decodes from the stream at the start of data, up to
// limit bytes. Whatever follows the stream (a kernel's size trailer,
// padding, the rest of the image) ends decoding with an error after the
// output is complete, so that error is dropped and the output kept.
func decode(format string, data []byte, limit int) []byte {
	var r io.Reader
	switch format {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil
		}
		zr.Multistream(false)
		r = zr
	case "xz":
		if dict, ok := xzDictSize(data); !ok || dict > int64(limit) {
			return nil
		}
		xr, err := xz.ReaderConfig{SingleStream: true}.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil
		}
		r = xr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(data),
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(limit)),
			zstd.WithDecoderMaxWindow(uint64(max(limit, zstd.MinWindowSize))))
		if err != nil {
			return nil
		}
		defer zr.Close()
		r = zr
	}
	var out bytes.Buffer
	_, _ = out.ReadFrom(io.LimitReader(r, int64(limit)))
	return out.Bytes()
}

// xzDictSize reads the LZMA2 dictionary size from the first block header
// of an xz stream. The xz package allocates the dictionary up front, and
// a header may ask for up to 4 GiB, so a stream is decoded only when its
// dictionary is within the decode budget. ok is false for anything but
// the LZMA2 filter alone, which is all the xz package decodes. (Later
// blocks are not checked: reaching their headers means decoding the
// first; the kernel's streams have one block.)
func xzDictSize(data []byte) (size int64, ok bool) {
	const streamHeader = 12
	if len(data) < streamHeader+1 || data[streamHeader] == 0 {
		return 0, false
	}
	hdr := data[streamHeader:]
	hdrLen := (int(hdr[0]) + 1) * 4
	if len(hdr) < hdrLen {
		return 0, false
	}
	flags := hdr[1]
	if flags&3 != 0 { // more than one filter
		return 0, false
	}
	p := hdr[2 : hdrLen-4] // a CRC32 ends the header
	var v [4]uint64        // compressed size, uncompressed size, filter id, properties size
	for i, present := range []bool{flags&0x40 != 0, flags&0x80 != 0, true, true} {
		if !present {
			continue
		}
		n := 0
		if v[i], n = binary.Uvarint(p); n <= 0 {
			return 0, false
		}
		p = p[n:]
	}
	const lzma2 = 0x21
	if v[2] != lzma2 || v[3] != 1 || len(p) < 1 || p[0] > 40 {
		return 0, false
	}
	if p[0] == 40 {
		return 1<<32 - 1, true
	}
	return int64(2|p[0]&1) << (p[0]/2 + 11), true
}
