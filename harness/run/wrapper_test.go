package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/vm"
)

// The kernel's sources on the syscall wrapper must agree with the matrix;
// the loader may be wrong only where ksystest predicts it, from the symbol
// it looks for, with the kernel's sources agreeing.
func TestCheckWrapper(t *testing.T) {
	config := func(y bool) *kernel.Kernel {
		p := filepath.Join(t.TempDir(), "config")
		v := "CONFIG_ARCH_HAS_SYSCALL_WRAPPER=y\n"
		if !y {
			v = "# CONFIG_ARCH_HAS_SYSCALL_WRAPPER is not set\n"
		}
		require.NoError(t, os.WriteFile(p, []byte(v), 0o644))
		return &kernel.Kernel{Config: p}
	}
	loaded := func(loader int, symbols ...string) *vm.Watch {
		return &vm.Watch{Events: []proto.Event{{Type: proto.EventLoaded, Loaded: &proto.Loaded{
			Wrapper: proto.Wrapper{Symbols: symbols, Loader: &loader, ResolvedBy: "cilium/ebpf"}}}}}
	}
	yes, no := true, false
	for name, tc := range map[string]struct {
		arch     string
		declared bool
		kernel   *kernel.Kernel
		watch    *vm.Watch
		agree    bool
		wrong    bool
		note     string
	}{
		"all agree": {arch: "x86_64", declared: true, kernel: config(true), watch: loaded(1, "__x64_sys_bpf"), agree: true},
		"config disagrees": {arch: "x86_64", declared: true, kernel: config(false), watch: loaded(1, "__x64_sys_bpf"),
			note: "syscall wrapper: the matrix declares yes, but kernel config no, guest kallsyms (__x64_sys_bpf) yes, loader's LINUX_HAS_SYSCALL_WRAPPER yes"},
		"guest disagrees": {arch: "x86_64", declared: true, kernel: config(true), watch: loaded(1, "__se_sys_bpf"),
			note: "syscall wrapper: the matrix declares yes, but kernel config yes, guest kallsyms (__x64_sys_bpf) no, loader's LINUX_HAS_SYSCALL_WRAPPER yes"},
		"loader disagrees unpredicted": {arch: "x86_64", declared: true, kernel: config(true), watch: loaded(0, "__x64_sys_bpf"),
			note: "syscall wrapper: the matrix declares yes, but kernel config yes, guest kallsyms (__x64_sys_bpf) yes, loader's LINUX_HAS_SYSCALL_WRAPPER no"},
		"matrix wrong everywhere": {arch: "arm", declared: true, kernel: config(false), watch: loaded(0, "sys_bpf"),
			note: "syscall wrapper: the matrix declares yes, but kernel config no, guest kallsyms (__arm_sys_bpf) no, loader's LINUX_HAS_SYSCALL_WRAPPER no"},
		"loader wrong as predicted": {arch: "ppc64le", declared: true, kernel: config(true), watch: loaded(0, "sys_bpf"), agree: true, wrong: true,
			note: "the loader resolves LINUX_HAS_SYSCALL_WRAPPER to no: it looks for __powerpc64_sys_bpf, which this kernel does not have"},
		"loader wrong as predicted, config too": {arch: "ppc64le", declared: true, kernel: config(false), watch: loaded(0, "sys_bpf"),
			note: "syscall wrapper: the matrix declares yes, but kernel config no"},
		"nothing known": {arch: "x86_64", declared: false, kernel: &kernel.Kernel{}, watch: &vm.Watch{}, agree: true},
		"kallsyms unread is unknown": {arch: "x86_64", declared: true, kernel: config(true), agree: true,
			watch: &vm.Watch{Events: []proto.Event{{Type: proto.EventLoaded, Loaded: &proto.Loaded{Wrapper: proto.Wrapper{ReadError: "kallsyms: no such file"}}}}}},
		"no symbol read is no": {arch: "arm", declared: false, kernel: config(false), watch: loaded(0, []string{}...), agree: true},
		"no symbol read, but the matrix says yes": {arch: "x86_64", declared: true, kernel: config(true), watch: loaded(1, []string{}...),
			note: "guest kallsyms (__x64_sys_bpf) no"},
	} {
		t.Run(name, func(t *testing.T) {
			a := mustArch(t, tc.arch)
			tg := matrix.Target{SyscallWrapper: map[bool]*bool{true: &yes, false: &no}[tc.declared]}
			wr := checkWrapper(tg, a, tc.kernel, tc.watch)
			assert.Equal(t, tc.agree, wr.Agree, wr.Note)
			assert.Equal(t, tc.wrong, wr.LoaderWrong)
			assert.Contains(t, wr.Note, tc.note)
			if tc.note == "" {
				assert.Empty(t, wr.Note)
			}
		})
	}
}
