package agent

import (
	"testing"

	"github.com/ksystest/ksystest/harness/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeResources struct{ opened []string }

func (f *fakeResources) OpenFD(path string) (uint64, error) {
	f.opened = append(f.opened, path)
	return uint64(40 + len(f.opened)), nil
}

func (f *fakeResources) Buffer(size int) (uint64, error) { return 0x7000_0000 + uint64(size), nil }

func TestResolveArgs(t *testing.T) {
	res := &fakeResources{}
	vals, err := ResolveArgs([]proto.Arg{
		{Name: "fd", Value: "fd:/dev/null"},
		{Name: "buf", Value: "buf:64"},
		{Name: "count", Value: "13"},
		{Name: "hex", Value: "0xdead00000000beef"},
		{Name: "neg", Value: "-1"},
	}, res)
	require.NoError(t, err)
	assert.Equal(t, []uint64{41, 0x7000_0040, 13, 0xdead00000000beef, ^uint64(0)}, vals)
	assert.Equal(t, []string{"/dev/null"}, res.opened)
}

func TestResolveArgsErrors(t *testing.T) {
	for value, want := range map[string]string{
		"zz":                   `argument 1 (a = "zz")`,
		"buf:0":                "size 0 out of range",
		"pipe:3":               `unknown kind "pipe"`,
		"0x1fffffffffffffffff": "value out of range",
	} {
		_, err := ResolveArgs([]proto.Arg{{Name: "a", Value: value}}, &fakeResources{})
		assert.ErrorContains(t, err, want, value)
	}
}
