package initramfs

import (
	"bytes"
	"flag"
	"fmt"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/internal/fuzzseed"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpora")

// FuzzInitramfsRoundTrip: files WriteInitramfs accepts come back from the
// archive as the kernel reads it exactly as given, parents before
// children, every added entry a parent directory.
func FuzzInitramfsRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, paths string, kinds, data []byte) {
		files := fuzzFiles(paths, kinds, data)
		var buf bytes.Buffer
		if err := WriteInitramfs(&buf, files); err != nil {
			return
		}
		got, err := readNewc(buf.Bytes())
		require.NoError(t, err)
		byPath := map[string]File{}
		for _, g := range got {
			byPath[g.Path] = g
		}
		for _, want := range files {
			want.Mode &= 0o7777
			switch {
			case want.Dir || want.Char || want.Symlink != "":
				want.Data = nil // accepted only when empty
			case want.Data == nil:
				want.Data = []byte{}
			}
			if !want.Char {
				want.Major, want.Minor = 0, 0
			}
			assert.Equal(t, want, byPath[want.Path])
			delete(byPath, want.Path)
		}
		for p, extra := range byPath {
			assert.Equal(t, File{Path: p, Mode: 0o755, Dir: true}, extra, "added entries are parent directories")
		}
	})
}

// fuzzFiles makes up to 16 files from fuzzed input: one per line of paths,
// of the kind, mode and device the next two bytes of kinds give, with a
// share of data.
func fuzzFiles(paths string, kinds, data []byte) []File {
	lines := strings.Split(paths, "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	var files []File
	for i, p := range lines {
		var kind, mode byte
		if 2*i+1 < len(kinds) {
			kind, mode = kinds[2*i], kinds[2*i+1]
		}
		f := File{Path: p, Mode: uint32(mode)<<4 | uint32(kind>>4)}
		switch {
		case kind%8 == 4:
			f.Symlink = p + "-target"
			if mode%2 == 1 {
				f.Data = data // with data: must be refused
			}
		case kind%4 == 1:
			f.Dir = true
		case kind%4 == 2:
			f.Char, f.Major, f.Minor = true, uint32(kind), uint32(mode)
		default:
			lo, hi := i*len(data)/len(lines), (i+1)*len(data)/len(lines)
			f.Data = data[lo:hi]
			if kind%4 == 3 {
				f.Dir = true // with data: must be refused
			}
		}
		files = append(files, f)
	}
	return files
}

// readNewc reads a newc archive the way the kernel unpacks an initramfs,
// and refuses what it would unpack otherwise than written: a bad header,
// a name twice, an entry whose parent is not a directory before it, data
// on anything but a regular file or a symlink (its target).
func readNewc(b []byte) ([]File, error) {
	var out []File
	isDir := map[string]bool{"": true}
	inodes := map[uint64]bool{}
	for off := 0; ; {
		if off%4 != 0 || off+110 > len(b) {
			return nil, fmt.Errorf("offset %d: short or unaligned header", off)
		}
		if string(b[off:off+6]) != "070701" {
			return nil, fmt.Errorf("offset %d: bad magic", off)
		}
		var field [13]uint64
		for i := range field {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("offset %d: field %d: %w", off, i, err)
			}
			field[i] = v
		}
		ino, mode, nlink, size, rmaj, rmin, namesize, check := field[0], field[1], field[4], field[6], field[9], field[10], field[11], field[12]
		nameEnd := off + 110 + int(namesize)
		if namesize == 0 || nameEnd > len(b) || b[nameEnd-1] != 0 || check != 0 {
			return nil, fmt.Errorf("offset %d: bad name or check", off)
		}
		name := string(b[off+110 : nameEnd-1])
		if strings.IndexByte(name, 0) >= 0 {
			return nil, fmt.Errorf("offset %d: NUL inside the name %q", off, name)
		}
		dataOff := (nameEnd + 3) &^ 3
		if dataOff+int(size) > len(b) {
			return nil, fmt.Errorf("%s: data past the end", name)
		}
		data := b[dataOff : dataOff+int(size)]
		off = (dataOff + int(size) + 3) &^ 3
		if name == trailer {
			if off != len(b) {
				return nil, fmt.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out, nil
		}
		if name == "" || path.Clean(name) != name || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../") || name == ".." {
			return nil, fmt.Errorf("name %q", name)
		}
		parent := path.Dir(name)
		if parent == "." {
			parent = ""
		}
		if !isDir[parent] {
			return nil, fmt.Errorf("%s: parent %q is not a directory before it", name, parent)
		}
		if _, seen := isDir[name]; seen || inodes[ino] {
			return nil, fmt.Errorf("%s: twice", name)
		}
		inodes[ino] = true
		f := File{Path: "/" + name, Mode: uint32(mode) & 0o7777}
		switch mode &^ 0o7777 {
		case modeDir:
			f.Dir = true
		case modeChar:
			f.Char, f.Major, f.Minor = true, uint32(rmaj), uint32(rmin)
		case modeReg:
			f.Data = append([]byte{}, data...)
		case modeLink:
			if size == 0 {
				return nil, fmt.Errorf("%s: symlink without a target", name)
			}
			f.Symlink = string(data)
		default:
			return nil, fmt.Errorf("%s: mode %o", name, mode)
		}
		if (f.Dir || f.Char) && size > 0 {
			return nil, fmt.Errorf("%s: data on a directory or device", name)
		}
		if wantLinks := map[bool]uint64{true: 2, false: 1}[f.Dir]; nlink != wantLinks {
			return nil, fmt.Errorf("%s: nlink %d", name, nlink)
		}
		isDir[name] = f.Dir
		out = append(out, f)
	}
}

// TestFuzzSeeds keeps the seed corpora under testdata/fuzz/ what fuzzSeeds
// makes; run it with -update-seeds to write them (the signed ones carry
// the test key's signatures, made at a fixed time). The other files there
// are inputs the fuzzers found failing, kept as regression tests.
func TestFuzzSeeds(t *testing.T) {
	for target, inputs := range fuzzSeeds(t) {
		fuzzseed.Corpus(t, target, inputs, *updateSeeds)
	}
}

func fuzzSeeds(t *testing.T) map[string][][]any {
	return map[string][][]any{
		"FuzzInitramfsRoundTrip": {
			{"/init\n/dev/console\n/ksystest/cases.json", []byte{0, 0xed, 2, 0x60, 0, 0xa4}, []byte("agent{}")},
			{"/a/b/c\n/a\n/a/b", []byte{0, 0xa4, 1, 0xed, 1, 0xed}, []byte("abc")},
			{"/TRAILER!!!\n/x", []byte(nil), []byte("data")},
			{"relative\n/a/../b\n//c\n/", []byte(nil), []byte(nil)},
		},
	}
}
