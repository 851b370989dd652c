package agent

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// naiveEntrySymbols reads kallsyms line by line: what bpfEntrySymbols
// must agree with.
func naiveEntrySymbols(text string) []string {
	var syms []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && strings.HasPrefix(f[2], "__") && strings.HasSuffix(f[2], "_sys_bpf") {
			syms = append(syms, f[2])
		}
	}
	return syms
}

func TestBPFEntrySymbols(t *testing.T) {
	var b strings.Builder
	for i := range 200000 {
		fmt.Fprintf(&b, "ffffffff8%07x T sym_%d\n", i, i)
		switch i {
		case 1000:
			b.WriteString("ffffffff81234560 T __x64_sys_bpf\n")
		case 1001:
			b.WriteString("ffffffff81234570 T __ia32_sys_bpf\n")
		case 1002:
			b.WriteString("ffffffff81234580 t __se_sys_bpf\n")
			b.WriteString("ffffffff81234590 t __do_sys_bpf\n")
			b.WriteString("ffffffff812345a0 T sys_bpf\n")        // no wrapper prefix
			b.WriteString("ffffffff812345b0 T __x64_sys_bpfx\n") // another name
		case 150000:
			b.WriteString("ffffffffc0001000 t __mod_sys_bpf\t[mod]\n") // a module's, not the kernel's
		}
	}
	text := b.String()
	want := []string{"__x64_sys_bpf", "__ia32_sys_bpf", "__se_sys_bpf", "__do_sys_bpf"}
	require.Equal(t, want, naiveEntrySymbols(text))

	got, err := bpfEntrySymbols(strings.NewReader(text))
	require.NoError(t, err)
	assert.Equal(t, want, got, "large reads")
	got, err = bpfEntrySymbols(iotest.HalfReader(strings.NewReader(text)))
	require.NoError(t, err)
	assert.Equal(t, want, got, "short reads")
	part := text[:strings.Index(text, "sym_1100\n")]
	got, err = bpfEntrySymbols(iotest.OneByteReader(strings.NewReader(part)))
	require.NoError(t, err)
	assert.Equal(t, want, got, "one byte at a time")

	got, err = bpfEntrySymbols(strings.NewReader("0 T __arm64_sys_bpf"))
	require.NoError(t, err)
	assert.Equal(t, []string{"__arm64_sys_bpf"}, got, "the last line without a newline")
	_, err = bpfEntrySymbols(iotest.ErrReader(fmt.Errorf("boom")))
	assert.ErrorContains(t, err, "boom")
}
