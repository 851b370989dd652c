package kernelbtf

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestToLittleEndian(t *testing.T) {
	t.Parallel()
	// Built in each order, the blobs differ only in byte order, so the
	// converted one must be the little-endian one to the byte.
	got, err := ToLittleEndian(everyKind(binary.BigEndian))
	require.NoError(t, err)
	assert.Equal(t, everyKind(binary.LittleEndian), got)

	le := everyKind(binary.LittleEndian)
	got, err = ToLittleEndian(le)
	require.NoError(t, err)
	assert.Same(t, &le[0], &got[0], "little-endian comes back as is")

	_, err = ToLittleEndian(everyKind(binary.BigEndian)[:100])
	assert.ErrorContains(t, err, "header says")
}

// TestToLittleEndianFixture converts clang's s390 BTF and finds the same
// types and prototypes in it.
func TestToLittleEndianFixture(t *testing.T) {
	t.Parallel()
	be := fixtureBTF(t, "probes_s390_bpfeb.o")
	want, err := Parse(be)
	require.NoError(t, err)
	le, err := ToLittleEndian(be)
	require.NoError(t, err)
	got, err := Parse(le)
	require.NoError(t, err)
	assert.Equal(t, binary.LittleEndian, got.ByteOrder())
	requireSameTypes(t, want, got)
	requireSamePrototypes(t, want, got)
	assert.Equal(t, fixtureBTF(t, "probes_s390_bpfeb.o"), be, "the input is left alone")
}

// requireSamePrototypes checks that two specs give every function the same
// parameters.
func requireSamePrototypes(t testing.TB, want, got *Spec) {
	t.Helper()
	names := want.Funcs("")
	require.Equal(t, names, got.Funcs(""))
	for _, name := range names {
		w, _ := want.Prototype(name)
		g, ok := got.Prototype(name)
		require.True(t, ok, name)
		require.Equal(t, w, g, name)
	}
}
