package kernelbtf

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// typeNames lists a spec's named types by kind, for comparisons.
func typeNames(s *Spec) map[string]string {
	out := map[string]string{}
	for id := uint32(1); int(id) <= s.NumTypes(); id++ {
		if n := s.name(s.w.at(s.offsets[id-1])); n != "" {
			out[n] = kindNames[s.kind(id)]
		}
	}
	return out
}

// A subset keeps the named types and everything they refer to, renumbered
// consistently, and nothing else; in both byte orders.
func TestSubset(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		s, err := Parse(everyKind(order))
		require.NoError(t, err)
		blob, n, err := s.Subset([]string{"pt_regs", "u64", "__do_sys_clone", "no_such_type"})
		require.NoError(t, err)
		sub, err := Parse(blob)
		require.NoError(t, err, "the subset is valid BTF")
		assert.Equal(t, n, sub.NumTypes())
		assert.Equal(t, order, sub.ByteOrder())
		assert.Equal(t, map[string]string{
			"pt_regs": "STRUCT", "unsigned long": "INT", "u64": "TYPEDEF", "long": "INT", "__do_sys_clone": "FUNC",
		}, typeNames(sub))
		params, ok := sub.Prototype("__do_sys_clone")
		require.True(t, ok)
		assert.Equal(t, []string{"clone_flags", "newsp", "parent_tidptr", "child_tidptr", "tls"}, params)
		// pt_regs' members survive with their names and types.
		id := uint32(0)
		for i := uint32(1); int(i) <= sub.NumTypes(); i++ {
			if sub.name(sub.w.at(sub.offsets[i-1])) == "pt_regs" {
				id = i
			}
		}
		require.NotZero(t, id)
		off := sub.offsets[id-1]
		assert.Equal(t, "di", sub.name(sub.w.at(off+12)))
		assert.Equal(t, "unsigned long", sub.name(sub.w.at(sub.offsets[sub.w.at(off+16)-1])))
		assert.Equal(t, "si", sub.name(sub.w.at(off+24)))

		// Pointers are followed: the union's pointer to unsigned long.
		blob, _, err = s.Subset([]string{"clone_flags_t", "jiffies"})
		require.NoError(t, err)
		sub, err = Parse(blob)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"clone_flags_t": "ENUM", "jiffies": "VAR", "unsigned long": "INT"}, typeNames(sub))
	}
}

// The relocations of ksystest's own probe objects name the kernel types
// they read, and none needs the kernel's type IDs.
func TestObjectRelocations(t *testing.T) {
	for _, obj := range []string{"probes_x86_bpfel.o", "probes_arm64_bpfel.o", "probes_s390_bpfeb.o", "probes_arm_bpfel.o"} {
		data, err := os.ReadFile(filepath.Join("../../bpf/obj", obj))
		require.NoError(t, err)
		r, err := ObjectRelocations(data)
		require.NoError(t, err, obj)
		assert.NotZero(t, r.Count, obj)
		assert.False(t, r.NeedsIDs, obj)
		assert.Contains(t, r.Names, "trace_event_raw_sys_enter", obj)
		assert.Contains(t, r.Names, "pt_regs", obj)
		for _, n := range r.Names {
			assert.NotContains(t, n, "___", "%s: %s is an essential name", obj, n)
		}
	}
	_, err := ObjectRelocations([]byte("not an elf"))
	assert.Error(t, err)

	// A hand-made object: a field relocation against pt_regs (type 5),
	// then a type-ID relocation, which needs the kernel's own IDs.
	r, err := ObjectRelocations(coreELF(0, 5))
	require.NoError(t, err)
	assert.Equal(t, []string{"pt_regs"}, r.Names)
	assert.False(t, r.NeedsIDs)
	assert.Equal(t, 2, r.Count)
	r, err = ObjectRelocations(coreELF(7, 9)) // u64: a typedef of unsigned long
	require.NoError(t, err)
	assert.True(t, r.NeedsIDs)
	assert.Equal(t, []string{"pt_regs", "u64", "unsigned long"}, r.Names, "a typedef's own name and its target's")
}

// On the committed kernels' BTF (see fixtures_test.go) and every BTF a
// run has cached (kernels' own and pahole's), the subset for ksystest's
// probes parses and holds every type their relocations name that the
// kernel has.
func TestCachedKernelSubsets(t *testing.T) {
	blobs := map[string][]byte{}
	for _, k := range kernelsIn(t, fixtureDir) {
		for _, file := range []string{"vmlinuz", "vmlinux"} {
			if image, err := os.ReadFile(filepath.Join(k.dir, file)); err == nil {
				f, err := Find(image)
				require.NoError(t, err, k.Release)
				blobs["testdata/"+k.Release+"/"+file] = f.BTF
			}
		}
	}
	paholes, _ := filepath.Glob(filepath.Join(fixtureDir, "pahole", "*.btf"))
	for _, path := range paholes {
		blobs["testdata/"+filepath.Base(path)] = mustRead(t, path)
	}
	require.Len(t, blobs, 10, "the committed kernels' BTF")
	cached, _ := filepath.Glob(filepath.Join(cacheDir(), "btf", "*.btf"))
	for _, path := range cached {
		blobs["cache/"+filepath.Base(path)] = mustRead(t, path)
	}
	data, err := os.ReadFile("../../bpf/obj/probes_x86_bpfel.o")
	require.NoError(t, err)
	r, err := ObjectRelocations(data)
	require.NoError(t, err)
	for name, blob := range blobs {
		s, err := Parse(blob)
		require.NoError(t, err, name)
		sub, n, err := s.Subset(r.Names)
		require.NoError(t, err, name)
		subSpec, err := Parse(sub)
		require.NoError(t, err)
		have, kept := typeNames(s), typeNames(subSpec)
		assert.Contains(t, kept, "pt_regs", name)
		for _, want := range r.Names {
			if _, ok := have[want]; ok {
				assert.Contains(t, kept, want, name)
			}
		}
		t.Logf("%s: %d of %d types, %d of %d KiB", name, n, s.NumTypes(), len(sub)>>10, len(blob)>>10)
	}
}
