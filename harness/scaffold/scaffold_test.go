package scaffold

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ksystest "github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/matrix"
)

func builtinCatalogue(t *testing.T) *matrix.Catalogue {
	t.Helper()
	m, err := matrix.LoadBuiltin(ksystest.Data)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	require.NoError(t, err)
	return cat
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(to, 0o755))
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), data, 0o644))
	}
}

// The example project, written the way the kernel's selftests are: every
// reading its programs store is found, with the argument it holds.
func TestScanExample(t *testing.T) {
	p, err := Scan("../../examples/syscall-macro")
	require.NoError(t, err)
	require.Len(t, p.Collections, 1)
	c := p.Collections[0]
	assert.Equal(t, "syscall_macro", c.Name)
	assert.Equal(t, "syscall_macro.bpf.c", c.Source)
	assert.Equal(t, []string{"filter_pid"}, c.Constants)
	assert.Contains(t, c.Globals, "arg4_core_cx")
	assert.Contains(t, c.Globals, "splice_flags")
	assert.False(t, c.VmlinuxH)

	progs := map[string]Program{}
	for _, pr := range c.Programs {
		progs[pr.Name] = pr
	}
	require.Len(t, progs, 3)
	assert.Equal(t, "prctl", progs["handle_sys_prctl"].Syscall)
	assert.Equal(t, "splice", progs["splice_enter"].Syscall)

	got := map[string]Read{}
	for _, pr := range c.Programs {
		for _, r := range pr.Reads {
			got[r.Global] = Read{Global: r.Global, Arg: r.Arg, Set: r.Set}
		}
	}
	for g, want := range map[string]Read{
		"arg2":           {Arg: 2, Set: "syscall"}, // READ_REG(arg2, PT_REGS_PARM2_SYSCALL(real_regs))
		"arg5":           {Arg: 5, Set: "syscall"},
		"arg1_core":      {Arg: 1, Set: "core"},
		"arg4_core":      {Arg: 4, Set: "core"},
		"option_syscall": {Arg: 1, Set: "ksyscall"}, // BPF_KSYSCALL's first parameter
		"splice_off_in":  {Arg: 2, Set: "ksyscall"}, // through a cast
		"splice_flags":   {Arg: 6, Set: "ksyscall"},
	} {
		want.Global = g
		assert.Equal(t, want, got[g], g)
	}
	// Function-ABI readings and a local's copy are not syscall arguments.
	for _, g := range []string{"arg4_cx", "arg4_core_cx", "arg1"} {
		assert.NotContains(t, got, g)
	}
}

// What init writes for the example loads as a config, with a case per
// syscall and a capture set per way of reading.
func TestRenderExampleLoads(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "../../examples/syscall-macro", dir)
	require.NoError(t, os.Remove(filepath.Join(dir, "ksystest.yaml")))
	p, err := Scan(dir)
	require.NoError(t, err)
	cat := builtinCatalogue(t)
	out := Render(p, cat)
	f := filepath.Join(dir, "ksystest.yaml")
	require.NoError(t, os.WriteFile(f, out, 0o644))

	m, err := matrix.Load(f, ksystest.Data)
	require.NoError(t, err, "%s", out)
	mine, err := m.Catalogue()
	require.NoError(t, err, "%s", out)
	prctl, ok := mine.Find("syscall_macro-prctl")
	require.True(t, ok, "%s", out)
	assert.Equal(t, "syscall_macro", prctl.Collection)
	var sets []string
	for _, c := range prctl.Captures {
		sets = append(sets, c.Name)
	}
	assert.Equal(t, []string{"handle_sys_prctl-syscall", "handle_sys_prctl-core", "prctl_enter-ksyscall"}, sets)
	assert.Equal(t, "arg2", prctl.Captures[0].Args[1].Global)
	assert.Equal(t, "", prctl.Captures[0].Args[0].Global, "arg1 is stored from a local: left to the user")
	splice, ok := mine.Find("syscall_macro-splice")
	require.True(t, ok)
	assert.Len(t, splice.Args, 6)
	assert.Equal(t, "splice_flags", splice.Captures[0].Args[5].Global)
	assert.Contains(t, string(out), `filter_pid: "${pid}"`)
	assert.Contains(t, string(out), "# inferred: syscall_macro.bpf.c:")

	written, commented := Cases(p, cat)
	assert.Equal(t, 2, written)
	assert.Equal(t, 0, commented)
}

// bpf2go's objects are grouped by ident into one collection with an
// object per arch; its programs and globals come from the ELF.
func TestScanBpf2goObjects(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "internal", "probe")
	require.NoError(t, os.MkdirAll(pkg, 0o755))
	for from, to := range map[string]string{
		"probes_x86_bpfel.o":   "tracer_x86_bpfel.o",
		"probes_s390_bpfeb.o":  "tracer_s390_bpfeb.o",
		"probes_arm64_bpfel.o": "tracer_arm64_bpfel.o",
	} {
		data, err := os.ReadFile(filepath.Join("../../bpf/obj", from))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(pkg, to), data, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(pkg, "gen.go"), []byte(
		"package probe\n\n//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target amd64,arm64,s390x -type event tracer missing.c -- -I../headers\n"), 0o644))
	p, err := Scan(dir)
	require.NoError(t, err)
	require.Len(t, p.Collections, 1)
	c := p.Collections[0]
	assert.Equal(t, "tracer", c.Name)
	assert.Empty(t, c.Source, "the go:generate line names a source that is not there")
	assert.Equal(t, map[string]string{
		"x86_64": "internal/probe/tracer_x86_bpfel.o",
		"arm64":  "internal/probe/tracer_arm64_bpfel.o",
		"s390x":  "internal/probe/tracer_s390_bpfeb.o",
	}, c.Objects)
	var syscalls []string
	for _, pr := range c.Programs {
		syscalls = append(syscalls, pr.Syscall)
	}
	assert.Contains(t, syscalls, "prctl")
	assert.Contains(t, syscalls, "splice")
	assert.NotContains(t, syscalls, "ia32_clone", "compat entry points are not the native syscall")

	out := Render(p, builtinCatalogue(t))
	f := filepath.Join(dir, "ksystest.yaml")
	require.NoError(t, os.WriteFile(f, out, 0o644))
	m, err := matrix.Load(f, ksystest.Data)
	require.NoError(t, err, "%s", out)
	_, err = m.Catalogue()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "arm64: internal/probe/tracer_arm64_bpfel.o")
	assert.Contains(t, string(out), "# - name: tracer-prctl", "no readings known: the case is left to finish")
}

// The go:generate line gives bpf2go's ident, source and include dirs.
func TestGoGenerates(t *testing.T) {
	f := filepath.Join(t.TempDir(), "gen.go")
	require.NoError(t, os.WriteFile(f, []byte(`package x
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-14 -cflags "-O2" -target=bpfel probe bpf/probe.c -- -I./headers -Wall
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go@v0.16.0 other other.c
//go:generate stringer -type X
`), 0o644))
	gens := goGenerates(f)
	require.Len(t, gens, 2)
	assert.Equal(t, generate{Ident: "probe", Source: "bpf/probe.c", Includes: []string{"./headers"}}, gens[0])
	assert.Equal(t, "other", gens[1].Ident)
}

// An empty project gets a config that runs ksystest's own cases.
func TestRenderEmpty(t *testing.T) {
	p, err := Scan(t.TempDir())
	require.NoError(t, err)
	out := Render(p, builtinCatalogue(t))
	f := filepath.Join(t.TempDir(), "ksystest.yaml")
	require.NoError(t, os.WriteFile(f, out, 0o644))
	m, err := matrix.Load(f, ksystest.Data)
	require.NoError(t, err, "%s", out)
	assert.Equal(t, []string{"builtin"}, m.Catalogues)
}

func TestStripComments(t *testing.T) {
	in := "a /* x\ny */ b // c\n\"//not\" d"
	out := stripComments(in)
	assert.Equal(t, "a     \n     b     \n\"//not\" d", out)
}

func TestSyscallOf(t *testing.T) {
	for sec, want := range map[string]string{
		"ksyscall/prctl":                      "prctl",
		"kprobe/__x64_sys_splice":             "splice",
		"kprobe/sys_write":                    "write",
		"kprobe/__se_sys_mmap":                "mmap",
		"kprobe/do_sys_open":                  "",
		"kprobe/__ia32_sys_write":             "",
		"kretprobe/__x64_sys_prctl":           "",
		"tracepoint/syscalls/sys_enter_write": "",
	} {
		assert.Equal(t, want, syscallOf(sec), sec)
	}
}
