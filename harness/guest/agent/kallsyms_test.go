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

// naiveKallsyms reads kallsyms line by line: what readKallsyms must
// agree with.
func naiveKallsyms(text string) kallsyms {
	k := kallsyms{BPFEntries: []string{}, Syscalls: map[string]bool{}, Aliases: map[string][]string{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue // a module's
		}
		if strings.HasPrefix(f[2], "__") && strings.HasSuffix(f[2], "_sys_bpf") {
			k.BPFEntries = append(k.BPFEntries, f[2])
		}
		if strings.HasPrefix(f[2], "sys_") || strings.HasPrefix(f[2], "__") && strings.Contains(f[2], "_sys_") {
			k.Syscalls[f[2]] = true
			k.Aliases[f[0]] = append(k.Aliases[f[0]], f[2])
		}
	}
	return k
}

func TestReadKallsyms(t *testing.T) {
	var b strings.Builder
	for i := range 200000 {
		fmt.Fprintf(&b, "ffffffff8%07x T sym_%d\n", i, i)
		switch i {
		case 1000:
			b.WriteString("ffffffff81234560 T __x64_sys_bpf\n")
			b.WriteString("ffffffff81234568 T __x64_sys_write\n")
		case 1001:
			b.WriteString("ffffffff81234570 T __ia32_sys_bpf\n")
		case 1002:
			b.WriteString("ffffffff81234580 t __se_sys_bpf\n")
			b.WriteString("ffffffff81234590 t __do_sys_bpf\n")
			b.WriteString("ffffffff812345a0 T sys_bpf\n")
			b.WriteString("ffffffff812345a0 T __se_sys_bpf_alias\n")
			b.WriteString("ffffffff812345b0 T __x64_sys_bpfx\n")
			b.WriteString("ffffffff812345c0 T sys_ni_syscall\n")
			b.WriteString("ffffffff812345d0 T ksys_write\n")
		case 150000:
			b.WriteString("ffffffffc0001000 t __mod_sys_bpf\t[mod]\n") // a module's, not the kernel's
			b.WriteString("ffffffffc0001010 t sys_mod\t[mod]\n")
		}
	}
	text := b.String()
	want := kallsyms{
		BPFEntries: []string{"__x64_sys_bpf", "__ia32_sys_bpf", "__se_sys_bpf", "__do_sys_bpf"},
		Syscalls: map[string]bool{"sys_bpf": true, "sys_ni_syscall": true, "__x64_sys_bpf": true, "__x64_sys_write": true,
			"__ia32_sys_bpf": true, "__se_sys_bpf": true, "__do_sys_bpf": true, "__x64_sys_bpfx": true, "__se_sys_bpf_alias": true},
		Aliases: map[string][]string{"ffffffff81234560": {"__x64_sys_bpf"}, "ffffffff81234568": {"__x64_sys_write"},
			"ffffffff81234570": {"__ia32_sys_bpf"}, "ffffffff81234580": {"__se_sys_bpf"}, "ffffffff81234590": {"__do_sys_bpf"},
			"ffffffff812345a0": {"sys_bpf", "__se_sys_bpf_alias"}, "ffffffff812345b0": {"__x64_sys_bpfx"}, "ffffffff812345c0": {"sys_ni_syscall"}},
	}
	require.Equal(t, want, naiveKallsyms(text))

	got, err := readKallsyms(strings.NewReader(text))
	require.NoError(t, err)
	assert.Equal(t, want, got, "large reads")
	got, err = readKallsyms(iotest.HalfReader(strings.NewReader(text)))
	require.NoError(t, err)
	assert.Equal(t, want, got, "short reads")
	part := text[:strings.Index(text, "sym_1100\n")]
	got, err = readKallsyms(iotest.OneByteReader(strings.NewReader(part)))
	require.NoError(t, err)
	assert.Equal(t, want, got, "one byte at a time")

	got, err = readKallsyms(strings.NewReader("0 T __arm64_sys_bpf\n0 T sys_write"))
	require.NoError(t, err)
	assert.Equal(t, kallsyms{BPFEntries: []string{"__arm64_sys_bpf"}, Syscalls: map[string]bool{"__arm64_sys_bpf": true, "sys_write": true},
		Aliases: map[string][]string{"0": {"__arm64_sys_bpf", "sys_write"}}}, got,
		"the last line without a newline")
	got, err = readKallsyms(strings.NewReader("0 T sys_write\n"))
	require.NoError(t, err)
	assert.NotNil(t, got.BPFEntries, "read, and none: empty, not nil (unread)")
	assert.Empty(t, got.BPFEntries)
	_, err = readKallsyms(iotest.ErrReader(fmt.Errorf("boom")))
	assert.ErrorContains(t, err, "boom")
}
