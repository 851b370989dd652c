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

// An event's shape is checked: the host never silently drops what the
// agent meant to say, nor takes one type's body for another's.
func TestDecodeRefusesMalformedEvents(t *testing.T) {
	for line, want := range map[string]string{
		`{"v":2,"seq":2,"type":"case","case":null}`:                     "a case event without its case",
		`{"v":2,"seq":2,"type":"case"}`:                                 "a case event without its case",
		`{"v":2,"seq":1,"type":"hello"}`:                                "a hello event without its hello",
		`{"v":2,"seq":3,"type":"loaded"}`:                               "a loaded event without its loaded",
		`{"v":2,"seq":3,"type":"error"}`:                                "a error event without its error",
		`{"v":2,"seq":3,"type":"reboot"}`:                               `unknown type "reboot"`,
		`{"v":2,"seq":3,"type":"done","case":{"name":"x","passed":[]}}`: "a done event carrying a case",
		`{"v":2,"seq":0,"type":"done"}`:                                 "sequence number 0: the agent counts from 1",
		`{"v":2,"seq":2,"type":"case","case":{"passed":[1]}}`:           "a case without a name",
	} {
		_, err := Decode([]byte(Marker + line))
		assert.ErrorContains(t, err, want, line)
	}
	_, err := Decode([]byte(Marker + `{"v":2,"seq":7,"type":"done"}`))
	assert.NoError(t, err)
}
