package proto

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	in := Event{Seq: 3, Type: EventCase, Case: &CaseResult{
		Name: "write", Passed: []uint64{97, 0xffff_0000_1234, 13},
		Captures: [][]uint64{{97, 0xffff_0000_1234, 13}},
	}}
	line := Encode(in)
	assert.Equal(t, byte('\n'), line[len(line)-1])

	out, err := Decode(append([]byte("[    1.2] random kernel text"), line...))
	require.NoError(t, err)
	in.Version = Version
	assert.Equal(t, in, out)
}

func TestDecodeRejects(t *testing.T) {
	_, err := Decode([]byte("Booting Linux on physical CPU 0x0"))
	assert.ErrorIs(t, err, ErrNotEvent)

	_, err = Decode([]byte(Marker + `{"v":1,"type":"case","ca`))
	assert.ErrorContains(t, err, "decode event")

	_, err = Decode([]byte(Marker + `{"v":99,"type":"done"}`))
	assert.ErrorContains(t, err, "event version 99")

	_, err = Decode([]byte(Marker + `{"v":1,"type":"done","surprise":1}`))
	assert.ErrorContains(t, err, "unknown field")
}
