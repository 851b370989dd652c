package kernelbtf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// builder writes BTF blobs for tests, in either byte order.
type builder struct {
	order binary.ByteOrder
	words []uint32
	strs  []byte
	n     uint32
}

func newBuilder(order binary.ByteOrder) *builder {
	return &builder{order: order, strs: []byte{0}}
}

// str adds s to the string section and returns its offset; "" is 0.
func (b *builder) str(s string) uint32 {
	if s == "" {
		return 0
	}
	off := uint32(len(b.strs))
	b.strs = append(append(b.strs, s...), 0)
	return off
}

// add appends a type: its name, info (kind and vlen), size or type, and
// the words that follow a btf_type. It returns the type's id.
func (b *builder) add(name string, kind, vlen, sizeType uint32, rest ...uint32) uint32 {
	b.words = append(b.words, b.str(name), kind<<24|vlen, sizeType)
	b.words = append(b.words, rest...)
	b.n++
	return b.n
}

// fn adds a FUNC called name with an int return and the named params, all
// of type typ, and returns the FUNC's id.
func (b *builder) fn(name string, ret, typ uint32, params ...string) uint32 {
	var rest []uint32
	for _, p := range params {
		rest = append(rest, b.str(p), typ)
	}
	proto := b.add("", kindFuncProto, uint32(len(params)), ret, rest...)
	return b.add(name, kindFunc, 1, proto)
}

func (b *builder) bytes() []byte {
	typeLen := uint32(4 * len(b.words))
	out := make([]byte, headerLen, headerLen+int(typeLen)+len(b.strs))
	b.order.PutUint16(out, 0xeb9f)
	out[2] = 1
	for i, v := range []uint32{headerLen, 0, typeLen, typeLen, uint32(len(b.strs))} {
		b.order.PutUint32(out[4+4*i:], v)
	}
	var word [4]byte
	for _, w := range b.words {
		b.order.PutUint32(word[:], w)
		out = append(out, word[:]...)
	}
	return append(out, b.strs...)
}

// everyKind is a blob with a type of every kind, and functions the tests
// ask about: a syscall's body, one with an unnamed parameter, a variadic
// one, and two static functions of the same name.
func everyKind(order binary.ByteOrder) []byte {
	b := newBuilder(order)
	long := b.add("long", kindInt, 0, 8, 1<<24|64)
	ulong := b.add("unsigned long", kindInt, 0, 8, 64)
	ptr := b.add("", kindPtr, 0, ulong)
	b.add("", kindArray, 0, 0, ulong, long, 4)
	st := b.add("pt_regs", kindStruct, 2, 16, b.str("di"), ulong, 0, b.str("si"), ulong, 64)
	b.add("", kindUnion, 1, 8, b.str("u"), ptr, 0)
	b.add("clone_flags_t", kindEnum, 2, 4, b.str("A"), 1, b.str("B"), 0xffffffff)
	b.add("task_struct", kindFwd, 0, 0)
	b.add("u64", kindTypedef, 0, ulong)
	b.add("", kindVolatile, 0, ulong)
	b.add("", kindConst, 0, ptr)
	b.add("", kindRestrict, 0, ptr)
	b.fn("__do_sys_clone", long, ulong, "clone_flags", "newsp", "parent_tidptr", "child_tidptr", "tls")
	b.fn("__se_sys_clone", long, long, "clone_flags", "newsp", "parent_tidptr", "child_tidptr", "tls")
	b.fn("anon_param", long, ulong, "fd", "")
	b.add("", kindFuncProto, 2, long, b.str("fmt"), ptr, 0, 0) // variadic: a last param of type 0
	b.add("printk", kindFunc, 2, b.n)
	b.fn("dup_static", 0, ulong, "first")
	b.fn("dup_static", 0, ulong, "second", "one")
	v := b.add("jiffies", kindVar, 0, ulong, 1)
	b.add(".data", kindDatasec, 1, 8, v, 0, 8)
	b.add("double", kindFloat, 0, 8)
	b.add("kfunc", kindDeclTag, 0, st, ^uint32(0))
	b.add("user", kindTypeTag, 0, ulong)
	b.add("big", kindEnum64, 1, 8, b.str("HUGE"), 1, 2)
	return b.bytes()
}

// tinyELF is a 64-bit little-endian ELF relocatable with two sections:
// .BTF holding btf, and the section name table.
func tinyELF(btf []byte) []byte {
	names := "\x00.BTF\x00.shstrtab\x00"
	le := binary.LittleEndian
	ehdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_BPF), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Shentsize: 64, Shnum: 3, Shstrndx: 2,
		Shoff: uint64(64 + len(btf) + len(names)),
	}
	copy(ehdr.Ident[:], elf.ELFMAG)
	ehdr.Ident[elf.EI_CLASS], ehdr.Ident[elf.EI_DATA], ehdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Off: 64, Size: uint64(len(btf)), Addralign: 4},
		{Name: 6, Type: uint32(elf.SHT_STRTAB), Off: uint64(64 + len(btf)), Size: uint64(len(names)), Addralign: 1},
	}
	var buf bytes.Buffer
	binary.Write(&buf, le, ehdr)
	buf.Write(btf)
	buf.WriteString(names)
	binary.Write(&buf, le, sections)
	return buf.Bytes()
}

// fixtureBTF returns the .BTF section of a committed BPF object
// (bpf/obj/probes_*_bpf{el,eb}.o): real clang output, in both byte orders.
func fixtureBTF(t testing.TB, name string) []byte {
	t.Helper()
	f, err := elf.Open(filepath.Join("..", "..", "bpf", "obj", name))
	require.NoError(t, err)
	defer f.Close()
	sec := f.Section(".BTF")
	require.NotNil(t, sec, "%s has no .BTF", name)
	data, err := sec.Data()
	require.NoError(t, err)
	return data
}

var fixtures = []struct {
	object string
	order  binary.ByteOrder
}{
	{"probes_x86_bpfel.o", binary.LittleEndian},
	{"probes_arm64_bpfel.o", binary.LittleEndian},
	{"probes_arm_bpfel.o", binary.LittleEndian},
	{"probes_s390_bpfeb.o", binary.BigEndian},
}

// requireSameTypes checks that two specs hold the same types, word by word
// as each reads its own byte order, and the same strings.
func requireSameTypes(t testing.TB, want, got *Spec) {
	t.Helper()
	require.Equal(t, want.NumTypes(), got.NumTypes())
	require.Equal(t, want.strs, got.strs)
	require.Equal(t, len(want.w.b), len(got.w.b))
	for off := uint32(0); off < uint32(len(want.w.b)); off += 4 {
		if want.w.at(off) != got.w.at(off) {
			require.Fail(t, fmt.Sprintf("word at %d: %#x, want %#x", off, got.w.at(off), want.w.at(off)))
		}
	}
}

// coreELF is a 64-bit little-endian BPF object with a .BTF (everyKind's)
// and a .BTF.ext holding one CO-RE relocation block: a field relocation
// against pt_regs, and one of kind, against typ.
func coreELF(kind, typ uint32) []byte {
	btf := everyKind(binary.LittleEndian)
	le := binary.LittleEndian
	var ext bytes.Buffer
	// header: magic, version, flags, hdr_len, func/line info (empty), core.
	relos := []uint32{16, 0, 2, 0, 5, 0, 0, 0, typ, 0, kind}
	w := func(v ...any) {
		for _, x := range v {
			binary.Write(&ext, le, x)
		}
	}
	w(uint16(0xeb9f), uint8(1), uint8(0), uint32(32), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(4*len(relos)))
	w(relos)
	names := "\x00.BTF\x00.BTF.ext\x00.shstrtab\x00"
	body := append(append(append([]byte(nil), btf...), ext.Bytes()...), names...)
	ehdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_BPF), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Shentsize: 64, Shnum: 4, Shstrndx: 3, Shoff: uint64(64 + len(body)),
	}
	copy(ehdr.Ident[:], elf.ELFMAG)
	ehdr.Ident[elf.EI_CLASS], ehdr.Ident[elf.EI_DATA], ehdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Off: 64, Size: uint64(len(btf)), Addralign: 4},
		{Name: 6, Type: uint32(elf.SHT_PROGBITS), Off: uint64(64 + len(btf)), Size: uint64(ext.Len()), Addralign: 4},
		{Name: 15, Type: uint32(elf.SHT_STRTAB), Off: uint64(64 + len(btf) + ext.Len()), Size: uint64(len(names)), Addralign: 1},
	}
	var buf bytes.Buffer
	binary.Write(&buf, le, ehdr)
	buf.Write(body)
	binary.Write(&buf, le, sections)
	return buf.Bytes()
}
