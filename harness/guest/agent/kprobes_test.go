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
	got := newKprobes(before, after)
	sort.Strings(got)
	assert.Equal(t, []string{"__x64_sys_prctl+0x0", "__x64_sys_prctl+0x0", "__x64_sys_write+0x0"}, got)
}
