package initramfs

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/initramfs/newc"
	"github.com/ksystest/ksystest/internal/fuzzseed"
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
	inodes := map[uint32]bool{}
	r := newc.NewReader(bytes.NewReader(b))
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			if rest, _ := io.ReadAll(r); len(rest) > 0 {
				return nil, errors.New("data after the trailer")
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := h.Name
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, err
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
		if _, seen := isDir[name]; seen || inodes[h.Ino] {
			return nil, fmt.Errorf("%s: twice", name)
		}
		inodes[h.Ino] = true
		f := File{Path: "/" + name, Mode: h.Mode & 0o7777}
		switch h.Mode & newc.TypeMask {
		case modeDir:
			f.Dir = true
		case modeChar:
			f.Char, f.Major, f.Minor = true, h.RMajor, h.RMin
		case modeReg:
			f.Data = data
		case modeLink:
			if len(data) == 0 {
				return nil, fmt.Errorf("%s: symlink without a target", name)
			}
			f.Symlink = string(data)
		default:
			return nil, fmt.Errorf("%s: mode %o", name, h.Mode)
		}
		if (f.Dir || f.Char) && len(data) > 0 {
			return nil, fmt.Errorf("%s: data on a directory or device", name)
		}
		if wantLinks := map[bool]uint32{true: 2, false: 1}[f.Dir]; h.Nlink != wantLinks {
			return nil, fmt.Errorf("%s: nlink %d", name, h.Nlink)
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
