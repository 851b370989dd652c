package expect

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/result"
)

// openat reads its arguments from the records an opensnoop-style program
// writes to its own ring buffer, tied to the call by the process.
var openat = matrix.CaseDef{Name: "openat", Collection: "snoop", Syscall: "openat",
	Args: []matrix.ArgDef{{Name: "dfd", Value: "-100"}, {Name: "filename", Value: "str:/etc/hostname"}, {Name: "flags", Value: "0xa0000"}, {Name: "mode", Value: "0x1a0"}},
	Captures: []matrix.CaptureDef{{Name: "event", Program: "trace_openat", Events: "events", Record: "event", PID: "pid",
		Args: []matrix.CaptureArg{{Field: "dfd"}, {Field: "path"}, {Field: "flags"}, {Field: "mode"}}}}}

var openatFields = []proto.Field{
	{Type: "int", Offset: 4, Size: 4, Signed: true},
	{Type: "char[16]", Offset: 16, Size: 16, Content: true},
	{Type: "int", Offset: 8, Size: 4, Signed: true},
	{Type: "__u32", Offset: 12, Size: 4},
}

func openatRecord(pid uint64, path string, flags, mode uint64) proto.Record {
	b := make([]byte, 16)
	copy(b, path)
	return proto.Record{Size: 32, Thread: &pid, Values: []*uint64{u64p(0xffffffffffffff9c), nil, &flags, &mode}, Bytes: [][]byte{nil, b, nil, nil}}
}

func openatGot(records ...proto.Record) proto.CaseResult {
	return proto.CaseResult{Passed: []uint64{0xffffffffffffff9c, 0x7000, 0xa0000, 0x1a0}, NR: -1, PID: 40, TID: 42,
		Contents: [][]byte{nil, []byte("/etc/hostname"), nil, nil}, Runs: map[string]uint64{"trace_openat": 1},
		Sets: []proto.SetResult{{Fields: openatFields, Records: records}}}
}

func TestRecords(t *testing.T) {
	def := plannedWithoutSource(openat, "x86_64")

	// The record of the call's process; another process's is left out.
	c := Compare(def, "x86_64", openatGot(openatRecord(7, "/other", 0, 0), openatRecord(40, "/etc/hostname", 0xa0000, 0x1a0)))
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	require.Len(t, c.Sets, 1)
	path := c.Sets[0].Args[1]
	assert.Equal(t, `"/etc/hostname"`, path.PassedContent)
	assert.Equal(t, `"/etc/hostname"`, path.CapturedContent)
	assert.Equal(t, "field path", path.From)

	// Two fields swapped: the message names both fields and values.
	c = Compare(def, "x86_64", openatGot(openatRecord(40, "/etc/hostname", 0x1a0, 0xa0000)))
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, "capture set event: args 3 (flags) and 4 (mode) are swapped: field flags holds 0x1a0, passed as mode; field mode holds 0xa0000, passed as flags", c.Message)

	// A path cut short by the field is truncated, not a mismatch.
	long := def
	long.Args = append([]matrix.ArgDef{}, def.Args...)
	long.Args[1].Value = "str:/tmp/a/path/longer/than/sixteen"
	got := openatGot(openatRecord(40, "/tmp/a/path/lon", 0xa0000, 0x1a0))
	c = Compare(long, "x86_64", got)
	assert.Equal(t, result.Fail, c.Verdict)
	path = c.Sets[0].Args[1]
	assert.True(t, path.Truncated)
	assert.False(t, path.OK)
	assert.Equal(t, "truncated: the field (char[16]) holds the first 15 of the string's 31 bytes", path.Note)
	assert.Contains(t, c.Message, "arg 2 (filename) from field path: truncated")

	// Another string is a mismatch that shows both.
	c = Compare(def, "x86_64", openatGot(openatRecord(40, "/etc/hosts", 0xa0000, 0x1a0)))
	assert.Equal(t, `the string differs: captured "/etc/hosts", passed "/etc/hostname"`, c.Sets[0].Args[1].Note)

	// No record of the call's process: said, with the run count and the
	// records of others.
	c = Compare(def, "x86_64", openatGot(openatRecord(7, "/etc/hostname", 0xa0000, 0x1a0)))
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Message, "no record in events for the call: trace_openat ran 1 time(s) during the call but reported nothing for it")
	assert.Contains(t, c.Message, "1 record(s) of other threads")

	// A field the agent could not find fails with the agent's words.
	got = openatGot(openatRecord(40, "/etc/hostname", 0xa0000, 0x1a0))
	got.Sets[0].Fields = append([]proto.Field{}, openatFields...)
	got.Sets[0].Fields[3] = proto.Field{Error: `"mode": no member mode in struct event`}
	c = Compare(def, "x86_64", got)
	assert.Equal(t, `"mode": no member mode in struct event`, c.Sets[0].Args[3].Note)

	// A record shorter than the fields: said, not read past.
	short := openatRecord(40, "/etc/hostname", 0xa0000, 0x1a0)
	short.Size, short.Values[3] = 12, nil
	c = Compare(def, "x86_64", openatGot(short))
	assert.Equal(t, "not in the record: it is 12 bytes, the field ends at 16", c.Sets[0].Args[3].Note)
}

// A socket address copied whole (room for more than was passed) matches
// on what was passed; one cut short is truncated; the family is read in
// the guest's byte order.
func TestCompareSockaddr(t *testing.T) {
	ap := netip.MustParseAddrPort("127.0.0.1:9")
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		passed := sockaddrIn(ap, bo)
		f := proto.Field{Type: "__u8[28]", Size: 28, Content: true}
		got := append(append([]byte{}, passed...), make([]byte, 12)...)
		v := compareContent(proto.ContentSockaddr, passed, f, got, bo)
		assert.True(t, v.ok)
		assert.Equal(t, "AF_INET 127.0.0.1:9", v.passed)

		v = compareContent(proto.ContentSockaddr, passed, proto.Field{Type: "__u8[8]", Size: 8}, passed[:8], bo)
		assert.True(t, v.truncated)
		assert.Equal(t, "truncated: the field (__u8[8]) holds the first 8 of the 16 bytes passed", v.note)

		other := sockaddrIn(netip.MustParseAddrPort("127.0.0.1:10"), bo)
		v = compareContent(proto.ContentSockaddr, passed, f, other, bo)
		assert.False(t, v.ok)
		assert.Equal(t, "the socket address differs from byte 3: captured AF_INET 127.0.0.1:10, passed AF_INET 127.0.0.1:9", v.note)
	}
	// Whatever the guest sends, rendering never panics.
	for _, b := range [][]byte{nil, {2}, {2, 0, 0}, {10, 0, 1, 2, 3}} {
		render(proto.ContentSockaddr, b, binary.LittleEndian)
		compareContent(proto.ContentSockaddr, []byte{2, 0, 0, 9}, proto.Field{}, b, binary.LittleEndian)
		compareContent(proto.ContentString, []byte("x"), proto.Field{}, b, binary.LittleEndian)
	}
}

// On a 32-bit arch a signed field is what a register holds: int dfd =
// -100 is 0xffffff9c there, as passed, though the agent sign-extends it
// to 64 bits.
func TestRecordsSignedOn32Bit(t *testing.T) {
	def := plannedWithoutSource(openat, "arm")
	got := openatGot(openatRecord(40, "/etc/hostname", 0xa0000, 0x1a0))
	got.Passed[0] = 0xffffff9c
	c := Compare(def, "arm", got)
	assert.Equal(t, result.Pass, c.Verdict, c.Message)
	require.NotNil(t, c.Sets[0].Args[0].Captured)
	assert.Equal(t, uint64(0xffffff9c), *c.Sets[0].Args[0].Captured)

	// On a 64-bit arch the register holds all 64 bits of it.
	got.Passed[0] = 0xffffffffffffff9c
	assert.Equal(t, result.Pass, Compare(plannedWithoutSource(openat, "x86_64"), "x86_64", got).Verdict)
}
