package agent

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/proto"
)

// What the agent writes to the oracle's content map and reads from its
// content records is what every committed object of probes.c declares.
func TestOracleContentLayout(t *testing.T) {
	objs, err := filepath.Glob("../../../bpf/obj/probes_*.o")
	require.NoError(t, err)
	require.NotEmpty(t, objs)
	for _, obj := range objs {
		spec, err := ebpf.LoadCollectionSpec(obj)
		require.NoError(t, err, obj)
		m := spec.Maps[contentMap]
		require.NotNil(t, m, obj)
		assert.Equal(t, uint32(12), m.ValueSize, "%s: SetContents writes 12 bytes", obj)
		var rec *btf.Struct
		require.NoError(t, spec.Types.TypeByName("oracle_content_record", &rec), obj)
		assert.Equal(t, uint32(contentSize), rec.Size, obj)
		data := rec.Members[len(rec.Members)-1]
		assert.Equal(t, "data", data.Name, obj)
		assert.Equal(t, btf.Bits(16*8), data.Offset, obj)
	}
}

// A content record: a string with its NUL, or the read's error.
func TestDecodeContentRecord(t *testing.T) {
	raw := make([]byte, contentSize)
	bo := binary.NativeEndian
	bo.PutUint32(raw, 42)
	bo.PutUint16(raw[4:], kindContent)
	raw[6] = 1
	bo.PutUint32(raw[8:], 7)
	copy(raw[16:], "/tmp/x\x00")
	ev, err := decodeEvent(raw)
	require.NoError(t, err)
	assert.Equal(t, uint32(42), ev.tid)
	assert.Equal(t, &proto.Content{Arg: 1, Data: []byte("/tmp/x\x00")}, ev.content)

	bo.PutUint32(raw[8:], uint32(0xfffffff2)) // -EFAULT
	ev, err = decodeEvent(raw)
	require.NoError(t, err)
	assert.Equal(t, &proto.Content{Arg: 1, Err: -14}, ev.content)

	_, err = decodeEvent(raw[:100])
	assert.ErrorContains(t, err, "content record of 100 bytes")
}
