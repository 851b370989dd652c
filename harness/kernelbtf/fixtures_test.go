package kernelbtf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The committed kernels: real Debian kernels cut down, made from ksystest's
// cache (a run of the default matrix fills it) by
//
//	go test ./harness/kernelbtf -run TestMakeKernelFixtures -make-fixtures
//
// Each keeps its kernel's boot image as Find meets it (an ELF's .BTF
// section, the Image's own bytes, a compressed stream), with 4 KiB of the
// real bytes around the BTF, in which the kernel's BTF is replaced by its
// subset for the syscall bodies and the types ksystest's probes relocate
// against; its config's BTF lines; and find.txt, what Find, Parse and
// Prototype made of it when it was cut. pahole/ holds the BTF ksystest
// made with pahole for kernels without their own, cut down the same way.
var makeFixtures = flag.Bool("make-fixtures", false, "cut testdata/kernels from the kernels and BTF in ksystest's cache")

const fixtureDir = "testdata/kernels"

// fixtureKernels pick, by release, the cached kernels to cut: one for each
// way Find reaches a kernel's BTF, in both byte orders.
var fixtureKernels = []string{
	"6.12.*+deb12-amd64",       // vmlinuz: a zstd stream; vmlinux: an ELF's .BTF
	"6.1.0-*-arm64",            // vmlinuz: the Image's own bytes
	"6.12.*+deb12-s390x",       // vmlinuz: big-endian BTF in a zstd stream
	"6.12.*+deb12-powerpc64le", // vmlinuz: a 64-bit ELF
	"6.12.*+deb13-riscv64",     // vmlinuz: the Image's own bytes
}

// fixturePahole pick, by -dbg package, the cached pahole BTF to cut.
var fixturePahole = []string{
	"linux-image-6.1.0-*-armmp-lpae-dbg", // 32-bit arm, no syscall wrapper
	"linux-image-6.1.0-*-s390x-dbg",      // big-endian
	"linux-image-6.1.0-*-5kc-malta-dbg",  // mips64el
	"linux-image-6.1.0-*-686-pae-dbg",    // i386
}

// fixtureContext is how much of a kernel's own bytes a fixture keeps on
// each side of its BTF.
const fixtureContext = 4 << 10

// fixtureNames are the types a fixture's BTF keeps, with all they refer
// to: the syscall bodies and what ksystest's probes relocate against.
func fixtureNames(t testing.TB) []string {
	names := slices.Clone(syscallBodies)
	for _, fx := range fixtures {
		r, err := ObjectRelocations(mustRead(t, filepath.Join("..", "..", "bpf", "obj", fx.object)))
		require.NoError(t, err)
		names = append(names, r.Names...)
	}
	return SortedNames(names)
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func TestMakeKernelFixtures(t *testing.T) {
	if !*makeFixtures {
		t.Skip("-make-fixtures cuts testdata/kernels from ksystest's cache")
	}
	names := fixtureNames(t)
	require.NoError(t, os.RemoveAll(fixtureDir))
	cached := kernelsIn(t, filepath.Join(cacheDir(), "kernels"))
	for _, pattern := range fixtureKernels {
		i := slices.IndexFunc(cached, func(k cachedKernel) bool { ok, _ := filepath.Match(pattern, k.Release); return ok })
		require.GreaterOrEqual(t, i, 0, "no kernel %s in %s: run ksystest first", pattern, cacheDir())
		k := cached[i]
		dir := filepath.Join(fixtureDir, k.Release)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		var config []string
		for _, l := range strings.Split(string(mustRead(t, filepath.Join(k.dir, "config"))), "\n") {
			if strings.Contains(l, "CONFIG_DEBUG_INFO_BTF") {
				config = append(config, l)
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte(strings.Join(config, "\n")+"\n"), 0o644))
		meta, err := json.MarshalIndent(map[string]string{"package": k.Package, "release": k.Release}, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "kernel.json"), append(meta, '\n'), 0o644))
		for _, file := range []string{"vmlinuz", "vmlinux"} {
			image, err := os.ReadFile(filepath.Join(k.dir, file))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			require.NoError(t, err)
			f, err := Find(image)
			if errors.Is(err, ErrNoBTF) {
				continue
			}
			require.NoError(t, err)
			sub, _, err := f.Spec.Subset(names)
			require.NoError(t, err)
			cut := cutImage(t, image, f, sub)
			require.NoError(t, os.WriteFile(filepath.Join(dir, file), cut, 0o644))
			t.Logf("%s %s: %d of %d bytes", k.Release, file, len(cut), len(image))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "find.txt"), []byte(findSummary(t, dir)), 0o644))
	}

	paholeDir := filepath.Join(fixtureDir, "pahole")
	require.NoError(t, os.MkdirAll(paholeDir, 0o755))
	files, _ := filepath.Glob(filepath.Join(cacheDir(), "btf", "*-pahole-*.btf"))
	for _, pattern := range fixturePahole {
		i := slices.IndexFunc(files, func(path string) bool {
			pkg, _, _ := strings.Cut(paholeFrom(t, path), " ")
			ok, _ := filepath.Match(pattern, pkg)
			return ok
		})
		require.GreaterOrEqual(t, i, 0, "no pahole BTF for %s in %s: run ksystest first", pattern, cacheDir())
		s, err := Parse(mustRead(t, files[i]))
		require.NoError(t, err)
		sub, _, err := s.Subset(names)
		require.NoError(t, err)
		pkg, _, _ := strings.Cut(paholeFrom(t, files[i]), " ")
		require.NoError(t, os.WriteFile(filepath.Join(paholeDir, pkg+".btf"), sub, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(paholeDir, "find.txt"), []byte(paholeSummary(t, paholeDir)), 0o644))
}

// cutImage is image with its BTF replaced by sub and only fixtureContext
// bytes kept on each side, in the same container.
func cutImage(t testing.TB, image []byte, f *Found, sub []byte) []byte {
	around := func(b []byte, off, n int) []byte {
		return cat(b[max(0, off-fixtureContext):off], sub, b[off+n:min(len(b), off+n+fixtureContext)])
	}
	switch w := f.Where; w.Container {
	case "elf":
		return cutELF(t, image, sub)
	case "":
		return around(image, w.Offset, len(f.BTF))
	default:
		inner := around(decode(w.Container, image[w.Stream:], maxDecoded), w.Offset, len(f.BTF))
		compress := map[string]func(testing.TB, []byte) []byte{"gzip": gzipped, "xz": xzed, "zstd": zstded}[w.Container]
		return cat(image[max(0, w.Stream-fixtureContext):w.Stream], compress(t, inner))
	}
}

// cutELF is a 64-bit ELF with image's header (class, byte order, machine)
// and two sections: .BTF holding btf, and the section names.
func cutELF(t testing.TB, image []byte, btf []byte) []byte {
	f, err := elf.NewFile(bytes.NewReader(image))
	require.NoError(t, err)
	require.Equal(t, elf.ELFCLASS64, f.Class, "only 64-bit kernels have an ELF with BTF")
	names := "\x00.BTF\x00.shstrtab\x00"
	ehdr := elf.Header64{
		Type: uint16(f.Type), Machine: uint16(f.Machine), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Shentsize: 64, Shnum: 3, Shstrndx: 2,
		Shoff: uint64(64 + len(btf) + len(names)),
	}
	copy(ehdr.Ident[:], image[:elf.EI_NIDENT])
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Off: 64, Size: uint64(len(btf)), Addralign: 4},
		{Name: 6, Type: uint32(elf.SHT_STRTAB), Off: uint64(64 + len(btf)), Size: uint64(len(names)), Addralign: 1},
	}
	var buf bytes.Buffer
	require.NoError(t, binary.Write(&buf, f.ByteOrder, ehdr))
	buf.Write(btf)
	buf.WriteString(names)
	require.NoError(t, binary.Write(&buf, f.ByteOrder, sections))
	return buf.Bytes()
}

// findSummary is what Find, Parse and Prototype make of a fixture
// kernel's images.
func findSummary(t testing.TB, dir string) string {
	var b strings.Builder
	for _, file := range []string{"vmlinuz", "vmlinux"} {
		image, err := os.ReadFile(filepath.Join(dir, file))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		f, err := Find(image)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", file, err)
			continue
		}
		fmt.Fprintf(&b, "%s: %d bytes of %s BTF at %s, %d types\n", file, len(f.BTF), f.Spec.ByteOrder(), f.Where, f.Spec.NumTypes())
		b.WriteString(prototypes(f.Spec))
	}
	return b.String()
}

// paholeSummary is the same for the pahole fixtures.
func paholeSummary(t testing.TB, dir string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "*.btf"))
	for _, path := range files {
		f, err := Find(mustRead(t, path))
		require.NoError(t, err)
		fmt.Fprintf(&b, "%s: %d bytes of %s BTF at %s, %d types\n", filepath.Base(path), len(f.BTF), f.Spec.ByteOrder(), f.Where, f.Spec.NumTypes())
		b.WriteString(prototypes(f.Spec))
	}
	return b.String()
}

func prototypes(s *Spec) string {
	var b strings.Builder
	for _, name := range syscallBodies {
		if params, ok := s.Prototype(name); ok {
			fmt.Fprintf(&b, "    %s(%s)\n", name, strings.Join(params, ", "))
		} else {
			fmt.Fprintf(&b, "    %s: none\n", name)
		}
	}
	return b.String()
}
