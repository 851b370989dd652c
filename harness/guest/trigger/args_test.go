package trigger

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ksystest/ksystest/harness/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeResources struct {
	opened []string
	mem    map[uint64][]byte
}

func (f *fakeResources) OpenFD(path string) (uint64, error) {
	f.opened = append(f.opened, path)
	return uint64(40 + len(f.opened)), nil
}

func (f *fakeResources) Socket() (uint64, error) { return 7, nil }

func (f *fakeResources) Buffer(size int, data []byte) (uint64, error) {
	if f.mem == nil {
		f.mem = map[uint64][]byte{}
	}
	addr := 0x7000_0000 + uint64(len(f.mem))*0x1000
	b := make([]byte, size)
	copy(b, data)
	f.mem[addr] = b
	return addr, nil
}

func (f *fakeResources) TLS() (uint64, uint64, error) { return 0x5555000, 0x5555000, nil }

func (f *fakeResources) Peek(addr uint64, n int) ([]byte, error) {
	b, ok := f.mem[addr]
	if !ok || len(b) < n {
		return nil, fmt.Errorf("no buffer at %#x", addr)
	}
	return b[:n], nil
}

func TestResolveArgs(t *testing.T) {
	res := &fakeResources{}
	r, err := ResolveArgs([]proto.Arg{
		{Name: "fd", Value: "fd:/dev/null"},
		{Name: "buf", Value: "buf:64"},
		{Name: "count", Value: "13"},
		{Name: "hex", Value: "0xdead00000000beef"},
		{Name: "neg", Value: "-1"},
		{Name: "any", Value: "any"},
	}, res)
	require.NoError(t, err)
	assert.Equal(t, []uint64{41, 0x7000_0000, 13, 0xdead00000000beef, ^uint64(0), 0}, r.Values)
	assert.Equal(t, r.Values, r.Registers())
	assert.Equal(t, []string{"/dev/null"}, res.opened)
}

func TestResolveConnectArgs(t *testing.T) {
	r, err := ResolveArgs([]proto.Arg{
		{Name: "fd", Value: "socket:inet"},
		{Name: "uservaddr", Value: "sockaddr:127.0.0.1:9"},
		{Name: "addrlen", Value: "16"},
		{Name: "sockaddr", Value: "deref:2"},
	}, &fakeResources{})
	require.NoError(t, err)
	ap := netip.MustParseAddrPort("127.0.0.1:9")
	assert.Equal(t, []uint64{7, 0x7000_0000, 16, SockaddrHead(ap)}, r.Values)
	assert.Equal(t, []bool{false, false, false, true}, r.Derived)
	assert.Equal(t, []uint64{7, 0x7000_0000, 16}, r.Registers())
	b := SockaddrIn(ap)
	assert.Equal(t, []byte{0, 9, 127, 0, 0, 1}, b[2:8], "port and address in network order")
}

func TestResolveArgsErrors(t *testing.T) {
	for value, want := range map[string]string{
		"zz":                   `argument 1 (a = "zz")`,
		"buf:0":                "size 0 out of range",
		"pipe:3":               `unknown kind "pipe"`,
		"0x1fffffffffffffffff": "value out of range",
		"sockaddr:[::1]:9":     "want IPv4:PORT",
		"deref:1":              "deref of no passed argument",
	} {
		_, err := ResolveArgs([]proto.Arg{{Name: "a", Value: value}}, &fakeResources{})
		assert.ErrorContains(t, err, want, value)
	}
}

// str:TEXT passes the address of TEXT with its NUL, and reports TEXT as
// what the argument points to; buf:N and sockaddr: report their bytes
// too, and numbers nothing.
func TestResolveContents(t *testing.T) {
	res := &fakeResources{}
	r, err := ResolveArgs([]proto.Arg{
		{Name: "dfd", Value: "-100"},
		{Name: "path", Value: "str:/etc/hostname"},
		{Name: "buf", Value: "buf:4"},
		{Name: "addr", Value: "sockaddr:127.0.0.1:9"},
	}, res)
	require.NoError(t, err)
	assert.Equal(t, append([]byte("/etc/hostname"), 0), res.mem[r.Values[1]], "the string, NUL-terminated, in the guest's memory")
	assert.Nil(t, r.Contents[0])
	assert.Equal(t, []byte("/etc/hostname"), r.Contents[1])
	assert.Len(t, r.Contents[2], 4)
	assert.Equal(t, SockaddrIn(netip.MustParseAddrPort("127.0.0.1:9")), r.Contents[3])

	_, err = ResolveArgs([]proto.Arg{{Name: "p", Value: "str:a\x00b"}}, res)
	assert.ErrorContains(t, err, "without NUL")
}
