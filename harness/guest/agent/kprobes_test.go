package agent

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNewKprobes(t *testing.T) {
	before := readKprobes(strings.NewReader(`ffffffff81234560  k  __x64_sys_write+0x0    [FTRACE]
0000000000000000  k  do_sys_open+0x0
`))
	after := readKprobes(strings.NewReader(`ffffffff81234560  k  __x64_sys_write+0x0    [FTRACE]
ffffffff81234560  k  __x64_sys_write+0x0    [FTRACE]
0000000000000000  k  do_sys_open+0x0
ffffffff81299990  k  __x64_sys_prctl+0x0    [FTRACE]
ffffffff81299990  r  __x64_sys_prctl+0x0    [FTRACE]
garbage
`))
	var got []string
	for _, k := range newKprobes(before, after) {
		got = append(got, k.place)
	}
	sort.Strings(got)
	assert.Equal(t, []string{"__x64_sys_prctl+0x0", "__x64_sys_prctl+0x0", "__x64_sys_write+0x0"}, got)
}

// A kprobe is named by every name of its function: the kernel lists the
// first one at the address, whichever the loader asked for.
func TestKprobeName(t *testing.T) {
	aliases := map[string][]string{"c0123450": {"sys_write", "__se_sys_write"}, "ffffffff81234560": {"__x64_sys_prctl"}}
	assert.Equal(t, "sys_write=__se_sys_write", kprobe{addr: "c0123450", place: "sys_write+0x0"}.name(aliases))
	assert.Equal(t, "__x64_sys_prctl+0x4", kprobe{addr: "ffffffff81234564", place: "__x64_sys_prctl+0x4"}.name(aliases))
	assert.Equal(t, "sys_prctl+0xc", kprobe{addr: "c0000000000abcd", place: "sys_prctl+0xc"}.name(aliases))
	assert.Equal(t, "odd", kprobe{addr: "zz", place: "odd"}.name(aliases))
}
