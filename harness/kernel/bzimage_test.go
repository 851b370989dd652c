package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"

	"github.com/ksystest/ksystest/internal/vmtest"
)

// fakeBzImage lays out a bzImage the way the x86 boot protocol does, with
// payload as its compressed kernel.
func fakeBzImage(t *testing.T, payload []byte) []byte {
	const setupSects = 3
	bz := make([]byte, (setupSects+1)*512)
	bz[0x1f1] = setupSects
	copy(bz[0x202:], "HdrS")
	binary.LittleEndian.PutUint32(bz[0x248:], 100) // payload_offset
	binary.LittleEndian.PutUint32(bz[0x24c:], uint32(len(payload)))
	bz = append(bz, make([]byte, 100)...)
	bz = append(bz, payload...)
	return append(bz, 0xde, 0xad, 0xbe, 0xef) // the kernel's size trailer
}

func TestVmlinuxFromBzImage(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		vmtest.Missing(t, "the xz tool (package xz-utils)")
	}
	elf := append([]byte("\x7fELF"), bytes.Repeat([]byte("kernel text "), 1000)...)
	var payload bytes.Buffer
	w, err := xz.NewWriter(&payload)
	require.NoError(t, err)
	w.Write(elf)
	require.NoError(t, w.Close())

	got, err := VmlinuxFromBzImage(context.Background(), fakeBzImage(t, payload.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, elf, got)

	var zpayload bytes.Buffer
	zw, err := zstd.NewWriter(&zpayload)
	require.NoError(t, err)
	zw.Write(elf)
	require.NoError(t, zw.Close())
	got, err = VmlinuxFromBzImage(context.Background(), fakeBzImage(t, zpayload.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, elf, got, "zstd payload (Debian 6.12)")

	var lpayload bytes.Buffer
	lw := lz4.NewWriter(&lpayload)
	require.NoError(t, lw.Apply(lz4.LegacyOption(true)))
	_, err = lw.Write(elf)
	require.NoError(t, err)
	require.NoError(t, lw.Close())
	got, err = VmlinuxFromBzImage(context.Background(), fakeBzImage(t, lpayload.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, elf, got, "lz4 legacy payload (Ubuntu's)")

	_, err = VmlinuxFromBzImage(context.Background(), []byte("MZ not a kernel"))
	assert.ErrorContains(t, err, "not a bzImage")
	_, err = VmlinuxFromBzImage(context.Background(), fakeBzImage(t, []byte("\x1f\x8bgzip")))
	assert.ErrorContains(t, err, "neither xz, zstd nor lz4")
}
