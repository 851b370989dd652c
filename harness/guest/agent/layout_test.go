package agent

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/proto"
)

// eventStruct is struct event { u32 pid; int dfd; union { u64 flags; }; struct
// sockaddr_in addr; char path[16]; u8 bits:3; }, as clang's BTF has it.
func eventStruct() *btf.Struct {
	u8 := &btf.Int{Name: "__u8", Size: 1}
	u16 := &btf.Int{Name: "__u16", Size: 2}
	u32 := &btf.Int{Name: "__u32", Size: 4}
	s32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64 := &btf.Int{Name: "__u64", Size: 8}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	sin := &btf.Struct{Name: "sockaddr_in", Size: 16, Members: []btf.Member{
		{Name: "sin_family", Type: u16, Offset: 0}, {Name: "sin_port", Type: u16, Offset: 16},
		{Name: "sin_addr", Type: u32, Offset: 32}, {Name: "pad", Type: &btf.Array{Type: u8, Nelems: 8}, Offset: 64},
	}}
	return &btf.Struct{Name: "event", Size: 48, Members: []btf.Member{
		{Name: "pid", Type: &btf.Typedef{Name: "pid_t", Type: u32}, Offset: 0},
		{Name: "dfd", Type: s32, Offset: 32},
		{Type: &btf.Union{Size: 8, Members: []btf.Member{{Name: "flags", Type: u64}}}, Offset: 64},
		{Name: "addr", Type: sin, Offset: 128},
		{Name: "path", Type: &btf.Array{Type: char, Nelems: 16}, Offset: 256},
		{Name: "bits", Type: u8, Offset: 384, BitfieldSize: 3},
	}}
}

func TestFieldOf(t *testing.T) {
	s := eventStruct()
	for path, want := range map[string]proto.Field{
		"pid":             {Type: "pid_t", Offset: 0, Size: 4},
		"dfd":             {Type: "int", Offset: 4, Size: 4, Signed: true},
		"flags":           {Type: "__u64", Offset: 8, Size: 8}, // inside an anonymous union
		"addr":            {Type: "struct sockaddr_in", Offset: 16, Size: 16, Content: true},
		"addr.sin_port":   {Type: "__u16", Offset: 18, Size: 2},
		"addr.pad[3]":     {Type: "__u8", Offset: 27, Size: 1},
		"path":            {Type: "char[16]", Offset: 32, Size: 16, Content: true},
		"path[15]":        {Type: "char", Offset: 47, Size: 1, Signed: true},
		"addr.sin_addr":   {Type: "__u32", Offset: 20, Size: 4},
		"addr.pad":        {Type: "__u8[8]", Offset: 24, Size: 8, Content: true},
		"addr.sin_family": {Type: "__u16", Offset: 16, Size: 2},
	} {
		got, err := fieldOf(s, path)
		require.NoError(t, err, path)
		assert.Equal(t, want, got, path)
	}
	for path, want := range map[string]string{
		"nope":         "no member nope in struct event",
		"path[16]":     "index 16 past the array's 16",
		"pid.x":        "pid_t is no struct or union",
		"dfd[1]":       "int is not an array",
		"bits":         "bits is a bitfield",
		"path[x]":      `index "x" is not a number`,
		"addr.pad[1":   "unclosed [",
		"":             "no field named",
		"addr.sin_x.y": "no member sin_x",
	} {
		_, err := fieldOf(s, path)
		assert.ErrorContains(t, err, want, path)
	}
}

// A record decodes per field in the guest's byte order, numbers widened
// with their sign, content kept as bytes; a field past a short record is
// nil, and the selection keeps the records whose fields hold its values.
func TestDecodeRecord(t *testing.T) {
	s := eventStruct()
	fields, thread, err := layout(s, proto.Capture{PID: "pid", Args: []proto.CaptureArg{{Field: "dfd"}, {Field: "path"}, {}, {Field: "flags"}}})
	require.NoError(t, err)
	require.NotNil(t, thread)
	assert.Equal(t, "not read", fields[2].Error)

	raw := make([]byte, 48)
	bo := binary.NativeEndian
	bo.PutUint32(raw[0:], 1234)
	bo.PutUint32(raw[4:], uint32(0xffffff9c)) // -100
	bo.PutUint64(raw[8:], 0xa0000)
	copy(raw[32:], "/etc/hostname")
	r := decodeRecord(raw, fields, thread)
	assert.Equal(t, 48, r.Size)
	assert.Equal(t, uint64(1234), *r.Thread)
	assert.Equal(t, uint64(0xffffffffffffff9c), *r.Values[0])
	assert.Equal(t, append([]byte("/etc/hostname"), 0, 0, 0), r.Bytes[1])
	assert.Nil(t, r.Values[2])
	assert.Equal(t, uint64(0xa0000), *r.Values[3])

	short := decodeRecord(raw[:12], fields, thread)
	assert.Nil(t, short.Values[3], "the field ends past the record")
	assert.Nil(t, short.Bytes, "no content field fits")

	sel, err := selectionOf(s, map[string]uint64{"dfd": 0xffffffffffffff9c})
	require.NoError(t, err)
	assert.True(t, sel.selects(raw))
	sel, err = selectionOf(s, map[string]uint64{"dfd": 3})
	require.NoError(t, err)
	assert.False(t, sel.selects(raw))
	_, err = selectionOf(s, map[string]uint64{"path": 3})
	assert.ErrorContains(t, err, "not a number")

	_, _, err = layout(s, proto.Capture{TID: "path"})
	assert.ErrorContains(t, err, "thread field path is char[16], not a number")
}
