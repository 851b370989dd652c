package agent

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every program of ksystest's probes carries both ways out (ksystest.h's
// ksystest_submit), and on a kernel without ring buffers the loader makes
// their map a perf event array, sized by cilium/ebpf per CPU.
func TestPerfEvents(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("../../../bpf/obj/probes_x86_bpfel.o")
	require.NoError(t, err)
	require.Equal(t, ebpf.RingBuf, spec.Maps[eventsMap].Type)
	for name, ps := range spec.Programs {
		calls := map[asm.BuiltinFunc]int{}
		for _, ins := range ps.Instructions {
			if ins.IsBuiltinCall() {
				calls[asm.BuiltinFunc(ins.Constant)]++
			}
		}
		assert.Positive(t, calls[asm.FnRingbufOutput], name)
		assert.Equal(t, calls[asm.FnRingbufOutput], calls[asm.FnPerfEventOutput], name)
	}
	perfEvents(spec)
	m := spec.Maps[eventsMap]
	assert.Equal(t, ebpf.PerfEventArray, m.Type)
	assert.Equal(t, uint32(0), m.MaxEntries, "one per possible CPU, as cilium/ebpf counts them")
	assert.Equal(t, uint32(4), m.KeySize)
	assert.Equal(t, uint32(4), m.ValueSize)
}

func TestUnsupportedError(t *testing.T) {
	err := &UnsupportedError{Kernel: "4.15.0-213-generic", Lacks: []string{"global data", "kprobes"}}
	assert.Equal(t, "unsupported kernel: 4.15.0-213-generic lacks global data; and kprobes", err.Error())
}
