package kernelbtf

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.object, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(fixtureBTF(t, fx.object))
			require.NoError(t, err)
			assert.Equal(t, fx.order, s.ByteOrder())
			assert.Greater(t, s.NumTypes(), 40)
			// BPF_KSYSCALL programs take the context alone.
			for _, fn := range []string{"ksys_write", "oracle_sys_enter", "naive_clone", "aware_clone"} {
				params, ok := s.Prototype(fn)
				require.True(t, ok, fn)
				assert.Equal(t, []string{"ctx"}, params, fn)
			}
			assert.Subset(t, s.Funcs("ksys_"), []string{"ksys_prctl", "ksys_splice", "ksys_write"})
			_, ok := s.Prototype("ksys_")
			assert.False(t, ok, "a prefix is no name")
		})
	}
}

func TestParseEveryKind(t *testing.T) {
	t.Parallel()
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			s, err := Parse(everyKind(order))
			require.NoError(t, err)
			assert.Equal(t, order, s.ByteOrder())
			assert.Equal(t, 30, s.NumTypes())
			for name, want := range map[string][]string{
				"__do_sys_clone": {"clone_flags", "newsp", "parent_tidptr", "child_tidptr", "tls"},
				"anon_param":     {"fd", ""},
				"printk":         {"fmt", ""},
				"dup_static":     {"first"},
			} {
				got, ok := s.Prototype(name)
				assert.True(t, ok, name)
				assert.Equal(t, want, got, name)
			}
			_, ok := s.Prototype("jiffies")
			assert.False(t, ok, "a VAR is no function")
			_, ok = s.Prototype("__do_sys_clon")
			assert.False(t, ok)
			assert.Equal(t, []string{"__do_sys_clone", "__se_sys_clone"}, s.Funcs("__"))
			assert.Equal(t, []string{"anon_param", "dup_static", "printk"}, s.Funcs("")[2:])
		})
	}
}

// TestParseErrors breaks a valid blob one way at a time.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	le := binary.LittleEndian
	// one builds a blob holding an int and then the type add makes.
	one := func(add func(b *builder)) []byte {
		b := newBuilder(le)
		b.add("int", kindInt, 0, 4, 1<<24|32)
		add(b)
		return b.bytes()
	}
	edit := func(f func(d []byte) []byte) []byte { return f(everyKind(le)) }
	put := func(d []byte, off int, v uint32) []byte { le.PutUint32(d[off:], v); return d }
	first := headerLen // where the first type record starts

	for _, tc := range []struct {
		name string
		data []byte
		err  string
	}{
		{"empty", nil, "btf header: 0 bytes"},
		{"short header", everyKind(le)[:20], "btf header: 20 bytes"},
		{"magic", edit(func(d []byte) []byte { d[0] = 0; return d }), "bad magic 00 eb"},
		{"version", edit(func(d []byte) []byte { d[2] = 2; return d }), "version 2"},
		{"flags", edit(func(d []byte) []byte { d[3] = 1; return d }), "flags 0x1"},
		{"header too short", edit(func(d []byte) []byte { return put(d, 4, 20) }), "length 20 out of range"},
		{"header too long", edit(func(d []byte) []byte { return put(d, 4, 1<<30) }), "out of range"},
		{"unknown header field", edit(func(d []byte) []byte {
			d = append(d[:headerLen:headerLen], append([]byte{0, 0, 0, 1}, d[headerLen:]...)...)
			return put(d, 4, headerLen+4)
		}), "unknown fields"},
		{"type section unaligned", edit(func(d []byte) []byte { return put(d, 8, 2) }), "not 4-byte aligned"},
		{"sections overlap", edit(func(d []byte) []byte { return put(d, 16, le.Uint32(d[16:])-4) }), "overlap"},
		{"gap between sections", edit(func(d []byte) []byte { return put(d, 16, le.Uint32(d[16:])+4) }), "gap"},
		{"trailing byte", append(everyKind(le), 0), "header says"},
		{"truncated", edit(func(d []byte) []byte { return d[:len(d)-1] }), "header says"},
		{"strings without NUL", edit(func(d []byte) []byte { d[len(d)-1] = 'x'; return d }), "NUL"},
		{"no strings", edit(func(d []byte) []byte { return put(d[:len(d)-int(le.Uint32(d[20:]))], 20, 0) }), "NUL"},
		{"record cut short", edit(func(d []byte) []byte {
			// Move the string section 4 bytes up, into the last record.
			put(d, 12, le.Uint32(d[12:])-4)
			put(d, 16, le.Uint32(d[16:])-4)
			return append(d[:headerLen+int(le.Uint32(d[12:]))], d[headerLen+int(le.Uint32(d[12:]))+4:]...)
		}), "truncated"},
		{"kind 0", one(func(b *builder) { b.add("", 0, 0, 0) }), "btf type 2: unknown kind 0"},
		{"kind 20", one(func(b *builder) { b.add("", 20, 0, 0) }), "unknown kind 20"},
		{"unused info bits", one(func(b *builder) { b.add("", kindPtr, 1<<16, 1) }), "unused info bits"},
		{"vlen on PTR", one(func(b *builder) { b.add("", kindPtr, 1, 1) }), "btf type 2 (PTR): vlen 1"},
		{"FUNC linkage 3", one(func(b *builder) {
			b.add("", kindFuncProto, 0, 0)
			b.add("f", kindFunc, 3, 2)
		}), "(FUNC): vlen 3"},
		{"name out of range", edit(func(d []byte) []byte { return put(d, first, 1<<20) }), "btf type 1 (INT): name offset 1048576 out of range"},
		{"member name out of range", one(func(b *builder) { b.add("s", kindStruct, 1, 4, 999, 1, 0) }), "member 0 name offset 999"},
		{"enum name out of range", one(func(b *builder) { b.add("e", kindEnum, 1, 4, 999, 1) }), "value 0 name offset 999"},
		{"param name out of range", one(func(b *builder) { b.add("", kindFuncProto, 1, 1, 999, 1) }), "member 0 name offset 999"},
		{"type out of range", one(func(b *builder) { b.add("", kindPtr, 0, 3) }), "btf type 2: refers to type 3, only 2 exist"},
		{"member type out of range", one(func(b *builder) { b.add("s", kindStruct, 1, 4, 0, 7, 0) }), "refers to type 7"},
		{"array index out of range", one(func(b *builder) { b.add("", kindArray, 0, 0, 1, 9, 4) }), "refers to type 9"},
		{"datasec entry out of range", one(func(b *builder) { b.add(".bss", kindDatasec, 1, 4, 5, 0, 4) }), "refers to type 5"},
		{"FUNC of an INT", one(func(b *builder) { b.add("f", kindFunc, 0, 1) }), "btf type 2 (FUNC): type 1 is INT, want FUNC_PROTO"},
		{"FUNC of void", one(func(b *builder) { b.add("f", kindFunc, 0, 0) }), "type 0 is UNKN"},
		{"INT of 3 bytes", one(func(b *builder) { b.add("i", kindInt, 0, 3, 24) }), "24 bits at 0 in 3 bytes"},
		{"INT bits beyond size", one(func(b *builder) { b.add("i", kindInt, 0, 4, 8<<16|32) }), "32 bits at 8 in 4 bytes"},
		{"INT encoding", one(func(b *builder) { b.add("i", kindInt, 0, 4, 3<<24|32) }), "bad encoding"},
		{"ARRAY with a size", one(func(b *builder) { b.add("", kindArray, 0, 4, 1, 1, 4) }), "size 4, want 0"},
		{"FWD with a type", one(func(b *builder) { b.add("f", kindFwd, 0, 1) }), "type 1, want 0"},
		{"ENUM of 3 bytes", one(func(b *builder) { b.add("e", kindEnum, 0, 3) }), "(ENUM): size 3"},
		{"ENUM64 of 16 bytes", one(func(b *builder) { b.add("e", kindEnum64, 0, 16) }), "(ENUM64): size 16"},
		{"FLOAT of 3 bytes", one(func(b *builder) { b.add("f", kindFloat, 0, 3) }), "(FLOAT): size 3"},
		{"DECL_TAG component -2", one(func(b *builder) { b.add("t", kindDeclTag, 0, 1, 0xfffffffe) }), "component -2"},
		{"VAR linkage 3", one(func(b *builder) { b.add("v", kindVar, 0, 1, 3) }), "linkage 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

// TestParseHeaderExtension accepts a longer header whose extra fields are
// zero, as the kernel does.
func TestParseHeaderExtension(t *testing.T) {
	t.Parallel()
	d := everyKind(binary.LittleEndian)
	d = append(d[:headerLen:headerLen], append(make([]byte, 8), d[headerLen:]...)...)
	binary.LittleEndian.PutUint32(d[4:], headerLen+8)
	s, err := Parse(d)
	require.NoError(t, err)
	assert.Equal(t, 30, s.NumTypes())
}

// TestParseTooManyTypes stops at BTF_MAX_TYPE.
func TestParseTooManyTypes(t *testing.T) {
	t.Parallel()
	b := newBuilder(binary.LittleEndian)
	for range maxTypes + 1 {
		b.add("", kindPtr, 0, 0)
	}
	_, err := Parse(b.bytes())
	assert.ErrorContains(t, err, "more than 1048575 types")
}

// TestParsePrefixes parses every prefix of a real blob, with the header
// shortened to match, so each cut lands in a different record.
func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		data := fixtureBTF(t, fx.object)
		h, err := readHeader(data)
		require.NoError(t, err)
		types := data[h.hdrLen+h.typeOff:][:h.typeLen]
		strs := data[h.hdrLen+h.strOff:][:h.strLen]
		for n := uint32(0); n < h.typeLen; n += 4 {
			cut := append(append(append([]byte(nil), data[:h.hdrLen]...), types[:n]...), strs...)
			o := binary.ByteOrder(binary.LittleEndian)
			if h.be {
				o = binary.BigEndian
			}
			o.PutUint32(cut[12:], n)
			o.PutUint32(cut[16:], n)
			_, err := Parse(cut)
			if err == nil {
				continue // a cut between records that drops only unreferenced types
			}
			assert.Regexp(t, `^btf type \d+`, err.Error(), "%s cut at %d", fx.object, n)
		}
	}
}
