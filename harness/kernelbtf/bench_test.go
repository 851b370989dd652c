package kernelbtf

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kernelSizedBTF is a blob the size of an arm64 kernel's (4.9 MB, 126k
// types, 42k of them functions; 6.12 has 5.6 MB, 126k, 55k): structs with
// members, and functions with their protos.
func kernelSizedBTF() []byte {
	b := newBuilder(binary.LittleEndian)
	ulong := b.add("unsigned long", kindInt, 0, 8, 64)
	for i := range 21000 {
		b.add(fmt.Sprintf("struct_%d", i), kindStruct, 6, 48,
			b.str("a"), ulong, 0, b.str("b"), ulong, 64, b.str("c"), ulong, 128,
			b.str("d"), ulong, 192, b.str("e"), ulong, 256, b.str("f"), ulong, 320)
		b.add("", kindPtr, 0, b.n)
		b.fn(fmt.Sprintf("func_%d", i), ulong, b.n, "x", "y", "z")
		b.fn(fmt.Sprintf("other_func_%d", i), ulong, ulong, "x")
	}
	b.fn("__do_sys_clone", ulong, ulong, "clone_flags", "newsp", "parent_tidptr", "tls", "child_tidptr")
	return b.bytes()
}

// BenchmarkFind finds and parses the BTF of a 42 MB image on the raw-scan
// path, as a run does for every arm64 kernel before its first guest.
func BenchmarkFind(b *testing.B) {
	b.Run("synthetic", func(b *testing.B) {
		image := cat(junk(1, 24<<20), kernelSizedBTF(), junk(2, 13<<20))
		benchmarkFind(b, image)
	})
	b.Run("arm64-Image", func(b *testing.B) {
		var image []byte
		for _, k := range kernelsIn(b, filepath.Join(cacheDir(), "kernels")) {
			if data, err := os.ReadFile(filepath.Join(k.dir, "vmlinuz")); err == nil && strings.HasSuffix(k.Package, "-arm64") && len(data) > len(image) {
				image = data
			}
		}
		if image == nil {
			b.Skipf("no arm64 kernel cached in %s", cacheDir())
		}
		benchmarkFind(b, image)
	})
}

func benchmarkFind(b *testing.B, image []byte) {
	b.SetBytes(int64(len(image)))
	for b.Loop() {
		f, err := Find(image)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := f.Spec.Prototype("__do_sys_clone"); !ok {
			b.Fatal("no __do_sys_clone")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	blob := kernelSizedBTF()
	b.SetBytes(int64(len(blob)))
	for b.Loop() {
		if _, err := Parse(blob); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrototype looks up the last function of a kernel-sized blob:
// a lookup compares the name of every FUNC.
func BenchmarkPrototype(b *testing.B) {
	s, err := Parse(kernelSizedBTF())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, ok := s.Prototype("__do_sys_clone"); !ok {
			b.Fatal("no __do_sys_clone")
		}
	}
}
