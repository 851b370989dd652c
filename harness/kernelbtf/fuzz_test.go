package kernelbtf

import (
	"encoding/binary"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/internal/fuzzseed"
)

var update = flag.Bool("update", false, "rewrite the hand-made seeds in testdata/fuzz")

// handSeeds are the hand-made inputs of each fuzz target, committed under
// testdata/fuzz/<target>/seed-<name> with what `go test -fuzz` found
// beside them. Seeds that depend on the BPF objects or on a compressor's
// output are added in the targets instead, so that regenerating those does
// not touch testdata.
func handSeeds() map[string]map[string][]byte {
	le, be := everyKind(binary.LittleEndian), everyKind(binary.BigEndian)
	return map[string]map[string][]byte{
		"FuzzParse": {"le": le, "be": be, "truncated": le[:len(le)/2]},
		"FuzzFind": {
			"le-in-image": cat(junk(1, 64), le, junk(2, 16)),
			"be-in-image": cat(junk(3, 64), be),
			"truncated":   cat(junk(1, 64), le[:len(le)-8]),
		},
		"FuzzToLittleEndian": {"le": le, "be": be, "truncated": be[:len(be)-8]},
	}
}

// TestFuzzSeeds keeps the committed hand-made seeds what handSeeds says.
func TestFuzzSeeds(t *testing.T) {
	t.Parallel()
	for target, seeds := range handSeeds() {
		fuzzseed.Check(t, target, seeds, *update)
	}
}

// FuzzParse: any bytes parse or give an error; what parses answers every
// question without a panic.
func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fixtureBTF(f, fx.object))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		for _, name := range s.Funcs("") {
			_, ok := s.Prototype(name)
			require.True(t, ok, name)
		}
		for id := range uint32(s.NumTypes()) {
			require.NotZero(t, s.kind(id+1))
		}
	})
}

// FuzzFind: any image gives a blob that parses on its own, or an error.
func FuzzFind(f *testing.F) {
	image := cat(junk(1, 300), everyKind(binary.LittleEndian), junk(2, 30))
	f.Add(cat(junk(3, 40), gzipped(f, image)))
	f.Add(cat(junk(4, 40), xzed(f, image)))
	f.Add(cat(junk(5, 40), zstded(f, image), junk(6, 8)))
	f.Add(tinyELF(everyKind(binary.BigEndian)))
	f.Fuzz(func(t *testing.T, image []byte) {
		// A small budget: a fuzzed stream may decode to anything.
		found, err := find(image, 1<<20)
		if err != nil {
			return
		}
		s, err := Parse(found.BTF)
		require.NoError(t, err)
		require.Equal(t, found.Spec.NumTypes(), s.NumTypes())
		if found.Where.Container == "" || found.Where.Container == "elf" {
			require.Equal(t, found.BTF, image[found.Where.Offset:][:len(found.BTF)])
		}
	})
}

// FuzzToLittleEndian: whatever parses converts, and the result parses to
// the same types and prototypes, little-endian.
func FuzzToLittleEndian(f *testing.F) {
	f.Add(fixtureBTF(f, "probes_s390_bpfeb.o"))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, err := Parse(data)
		le, convErr := ToLittleEndian(data)
		if err != nil {
			require.Error(t, convErr)
			return
		}
		require.NoError(t, convErr)
		got, err := Parse(le)
		require.NoError(t, err)
		require.Equal(t, binary.LittleEndian, got.ByteOrder())
		requireSameTypes(t, want, got)
		requireSamePrototypes(t, want, got)
	})
}

// FuzzSubset: whatever parses gives a subset that parses, for any names,
// with no more types than the whole.
func FuzzSubset(f *testing.F) {
	f.Add(everyKind(binary.LittleEndian), "pt_regs")
	f.Add(everyKind(binary.BigEndian), "jiffies")
	f.Add(fixtureBTF(f, "probes_s390_bpfeb.o"), "pt_regs")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		blob, n, err := s.Subset([]string{name, "long", "unsigned long"})
		require.NoError(t, err)
		sub, err := Parse(blob)
		require.NoError(t, err)
		require.Equal(t, n, sub.NumTypes())
		require.LessOrEqual(t, n, s.NumTypes())
		require.Equal(t, s.ByteOrder(), sub.ByteOrder())
	})
}

// FuzzObjectRelocations: any bytes give relocations or an error, never a
// panic: a user's object is untrusted input.
func FuzzObjectRelocations(f *testing.F) {
	// Small seeds: the engine slows to a crawl on 90 KiB objects.
	f.Add(coreELF(0, 5))
	f.Add(coreELF(7, 9))
	f.Add(tinyELF(everyKind(binary.LittleEndian)))
	f.Fuzz(func(t *testing.T, obj []byte) {
		r, err := ObjectRelocations(obj)
		if err != nil {
			return
		}
		for _, n := range r.Names {
			require.NotEmpty(t, n)
		}
	})
}
