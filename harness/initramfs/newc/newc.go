// Package newc reads the "new" (SVR4, no CRC) cpio format the kernel
// unpacks initramfs archives from, as a stream: entry by entry, each
// entry's data read before the next. The standby init of a saved guest
// unpacks a run's files with it, and the host's tests read back what
// harness/initramfs writes. Standard library only: guest programs link it.
package newc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Magic starts every header; Trailer names the entry that ends an archive.
const (
	Magic   = "070701"
	Trailer = "TRAILER!!!"
)

// File types of Header.Mode.
const (
	TypeMask    = 0o170000
	TypeDir     = 0o040000
	TypeReg     = 0o100000
	TypeSymlink = 0o120000
	TypeChar    = 0o020000
)

// MaxName bounds a name: PATH_MAX, counting its NUL.
const MaxName = 4096

const headerLen = 110

// Header is one entry's header.
type Header struct {
	Name         string // as written: relative, without a leading "/"
	Ino, Mode    uint32
	Nlink        uint32
	Size         int64
	RMajor, RMin uint32
}

// Reader reads an archive's entries in order.
type Reader struct {
	r   *bufio.Reader
	off int64
	// left is what the current entry's data has unread; pad the bytes
	// that align the next header.
	left int64
	pad  int64
	done bool
}

// NewReader reads the archive r holds, in reads of up to 1 MiB: the
// standby init reads it over 9p, where each read is a round trip.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 1<<20)} }

// Next skips what is left of the current entry and reads the next header.
// It returns io.EOF once it has read the trailer; an archive that ends
// without one is io.ErrUnexpectedEOF.
func (r *Reader) Next() (*Header, error) {
	if r.done {
		return nil, io.EOF
	}
	if err := r.skip(r.left + r.pad); err != nil {
		return nil, err
	}
	r.left, r.pad = 0, 0
	var raw [headerLen]byte
	if err := r.full(raw[:]); err != nil {
		return nil, err
	}
	if string(raw[:6]) != Magic {
		return nil, fmt.Errorf("cpio offset %d: no newc header", r.off-headerLen)
	}
	var field [13]uint32
	for i := range field {
		v, err := strconv.ParseUint(string(raw[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("cpio offset %d: header field %d: %w", r.off-headerLen, i, err)
		}
		field[i] = uint32(v)
	}
	h := &Header{Ino: field[0], Mode: field[1], Nlink: field[4], Size: int64(field[6]), RMajor: field[9], RMin: field[10]}
	namesize, check := int64(field[11]), field[12]
	if namesize == 0 || namesize > MaxName || check != 0 {
		return nil, fmt.Errorf("cpio offset %d: bad name size %d or check %d", r.off-headerLen, namesize, check)
	}
	name := make([]byte, namesize)
	if err := r.full(name); err != nil {
		return nil, err
	}
	if name[namesize-1] != 0 || strings.IndexByte(string(name[:namesize-1]), 0) >= 0 {
		return nil, fmt.Errorf("cpio offset %d: name is not one NUL-terminated string", r.off-namesize)
	}
	h.Name = string(name[:namesize-1])
	if err := r.skip(align(r.off)); err != nil {
		return nil, err
	}
	if h.Name == Trailer {
		r.done = true
		return nil, io.EOF
	}
	r.left, r.pad = h.Size, align(r.off+h.Size)
	return h, nil
}

// Read reads the current entry's data.
func (r *Reader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.off += int64(n)
	r.left -= int64(n)
	if errors.Is(err, io.EOF) && r.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *Reader) full(p []byte) error {
	n, err := io.ReadFull(r.r, p)
	r.off += int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (r *Reader) skip(n int64) error {
	m, err := io.CopyN(io.Discard, r.r, n)
	r.off += m
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// align is how many bytes follow offset off to the next multiple of 4.
func align(off int64) int64 { return (4 - off%4) % 4 }
