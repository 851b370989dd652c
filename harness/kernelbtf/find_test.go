package kernelbtf

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// junk is n bytes of noise, the same for the same seed.
func junk(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func gzipped(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func xzed(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func zstded(t testing.TB, data []byte) []byte {
	w, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer w.Close()
	return w.EncodeAll(data, nil)
}

func TestFind(t *testing.T) {
	t.Parallel()
	le, be := everyKind(binary.LittleEndian), everyKind(binary.BigEndian)
	small := func() []byte {
		b := newBuilder(binary.LittleEndian)
		b.fn("__do_sys_clone", 0, 0, "a", "b")
		return b.bytes()
	}()
	// False headers: one pointing beyond the image, one whose sections
	// fit but hold garbage, one cut short.
	beyond := cat(patterns[0], []byte{0xf0, 0xff, 0xff, 0, 0xf0, 0xff, 0xff, 0, 1, 0, 0, 0})
	garbage := cat(patterns[0], []byte{16, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0}, junk(9, 16), []byte{0})
	cut := le[:len(le)-3]
	payload := cat(junk(1, 5000), beyond, garbage, le, junk(2, 3000))
	// Compression magics in the junk ahead of the real stream, as in a
	// kernel's decompressor code.
	falseMagics := cat(junk(3, 100), magics[0].magic, junk(4, 50), magics[1].magic, junk(5, 50), magics[2].magic, junk(6, 100))
	trailer := []byte{0xde, 0xad, 0xbe, 0xef} // a kernel's size trailer

	for _, tc := range []struct {
		name  string
		image []byte
		want  []byte
		where Location
		order binary.ByteOrder
	}{
		{"raw blob", le, le, Location{Offset: 0}, binary.LittleEndian},
		{"raw big-endian blob", be, be, Location{Offset: 0}, binary.BigEndian},
		{"in an image", cat(junk(1, 12345), le, junk(2, 999)), le, Location{Offset: 12345}, binary.LittleEndian},
		{"big-endian in an image", cat(junk(1, 777), be, junk(2, 999)), be, Location{Offset: 777}, binary.BigEndian},
		{"after false headers", payload, le, Location{Offset: 5000 + len(beyond) + len(garbage)}, binary.LittleEndian},
		{"after a cut blob", cat(cut, le), le, Location{Offset: len(cut)}, binary.LittleEndian},
		{"the largest of two", cat(small, junk(1, 100), le, junk(2, 100), small), le, Location{Offset: len(small) + 100}, binary.LittleEndian},
		{"gzip", cat(falseMagics, gzipped(t, payload), trailer), le,
			Location{Container: "gzip", Stream: len(falseMagics), Offset: 5000 + len(beyond) + len(garbage)}, binary.LittleEndian},
		{"xz", cat(falseMagics, xzed(t, payload), trailer), le,
			Location{Container: "xz", Stream: len(falseMagics), Offset: 5000 + len(beyond) + len(garbage)}, binary.LittleEndian},
		{"zstd big-endian", cat(falseMagics, zstded(t, cat(junk(7, 4096), be)), trailer, junk(8, 1000)), be,
			Location{Container: "zstd", Stream: len(falseMagics), Offset: 4096}, binary.BigEndian},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Find(tc.image)
			require.NoError(t, err)
			assert.Equal(t, tc.want, f.BTF)
			assert.Equal(t, tc.where, f.Where)
			assert.Equal(t, tc.order, f.Spec.ByteOrder())
			params, ok := f.Spec.Prototype("__do_sys_clone")
			assert.True(t, ok)
			assert.Len(t, params, 5)
		})
	}
}

func TestFindNone(t *testing.T) {
	t.Parallel()
	le := everyKind(binary.LittleEndian)
	for _, tc := range []struct {
		name  string
		image []byte
	}{
		{"empty", nil},
		{"noise", junk(1, 1<<16)},
		{"cut blob", cat(junk(1, 100), le[:len(le)-1])},
		{"header only", le[:headerLen]},
		{"cut stream", zstded(t, cat(junk(2, 100), le))[:50]},
		{"corrupt stream", func() []byte {
			z := gzipped(t, cat(junk(2, 100), le))
			z[len(z)/2] ^= 0xff
			return z
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Find(tc.image)
			assert.ErrorIs(t, err, ErrNoBTF)
		})
	}
}

// TestFindBudget stops decoding at the budget: a blob beyond it is not
// found.
func TestFindBudget(t *testing.T) {
	t.Parallel()
	image := zstded(t, cat(make([]byte, 1<<20), everyKind(binary.LittleEndian)))
	_, err := find(image, 1<<20)
	assert.ErrorIs(t, err, ErrNoBTF)
	f, err := find(image, 2<<20)
	require.NoError(t, err)
	assert.Equal(t, 1<<20, f.Where.Offset)
}

func TestFindELF(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.object, func(t *testing.T) {
			t.Parallel()
			obj, err := os.ReadFile(filepath.Join("..", "..", "bpf", "obj", fx.object))
			require.NoError(t, err)
			f, err := Find(obj)
			require.NoError(t, err)
			assert.Equal(t, fixtureBTF(t, fx.object), f.BTF)
			assert.Equal(t, "elf", f.Where.Container)
			assert.Equal(t, f.BTF, obj[f.Where.Offset:][:len(f.BTF)])
			assert.Equal(t, fx.order, f.Spec.ByteOrder())

			// A .BTF section that does not parse is an error, not
			// an image without BTF: it was found, and is broken.
			obj[f.Where.Offset] = 0
			_, err = Find(obj)
			assert.ErrorContains(t, err, "ELF section .BTF: btf header: bad magic 00")
			assert.NotErrorIs(t, err, ErrNoBTF)
		})
	}
}

func TestFindTinyELF(t *testing.T) {
	t.Parallel()
	btf := everyKind(binary.BigEndian)
	image := tinyELF(btf)
	f, err := Find(image)
	require.NoError(t, err)
	assert.Equal(t, btf, f.BTF)
	assert.Equal(t, Location{Container: "elf", Offset: 64}, f.Where)

	// The section header of .BTF comes after the file header, the
	// section and the names; its size is at +32.
	size := len(image) - 2*64 + 32
	binary.LittleEndian.PutUint64(image[size:], 1<<40)
	_, err = Find(image)
	assert.ErrorContains(t, err, "ELF section .BTF: 1099511627776 bytes at 64, beyond the file")

	// An ELF without .BTF is scanned like any image.
	image = tinyELF(nil)
	copy(image[64+1:], ".XYZ")
	f, err = Find(cat(image, btf))
	require.NoError(t, err)
	assert.Equal(t, Location{Offset: len(image)}, f.Where)
}

func TestXZDictSize(t *testing.T) {
	t.Parallel()
	stream := xzed(t, []byte("kernel"))
	size, ok := xzDictSize(stream)
	require.True(t, ok)
	assert.Equal(t, int64(8<<20), size, "the xz package's default")

	// The block header: size, flags, filter id 0x21, properties size 1,
	// then the dictionary size property.
	prop := bytes.Index(stream[12:], []byte{0x21, 1}) + 12 + 2
	for _, tc := range []struct {
		prop byte
		size int64
		ok   bool
	}{
		{0, 4 << 10, true},
		{1, 6 << 10, true},
		{18, 2 << 20, true},
		{39, 3 << 30, true},
		{40, 1<<32 - 1, true},
		{41, 0, false},
	} {
		s := bytes.Clone(stream)
		s[prop] = tc.prop
		size, ok := xzDictSize(s)
		assert.Equal(t, tc.ok, ok, "property %d", tc.prop)
		assert.Equal(t, tc.size, size, "property %d", tc.prop)
	}

	for name, s := range map[string][]byte{
		"empty":        nil,
		"no block":     append(bytes.Clone(stream[:12]), 0),
		"cut header":   stream[:14],
		"two filters":  func() []byte { s := bytes.Clone(stream); s[13] |= 1; return s }(),
		"other filter": func() []byte { s := bytes.Clone(stream); s[prop-2] = 0x03; return s }(),
	} {
		_, ok := xzDictSize(s)
		assert.False(t, ok, name)
	}

	// A stream asking for more dictionary than the budget is skipped
	// before the xz package allocates it.
	big := bytes.Clone(xzed(t, cat(junk(1, 100), everyKind(binary.LittleEndian))))
	_, err := find(big, 1<<20)
	assert.ErrorIs(t, err, ErrNoBTF, "an 8 MiB dictionary is over a 1 MiB budget")
	_, err = find(big, 16<<20)
	assert.NoError(t, err)
}

func TestLocationString(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "offset 24651152", Location{Offset: 24651152}.String())
	assert.Equal(t, "ELF section .BTF at offset 4096", Location{Container: "elf", Offset: 4096}.String())
	assert.Equal(t, "offset 15944252 of the zstd stream at 816224",
		Location{Container: "zstd", Stream: 816224, Offset: 15944252}.String())
}
