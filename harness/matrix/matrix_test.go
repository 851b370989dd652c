package matrix

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"path/filepath"
	"testing"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/guest/trigger"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/sysparams"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// builtinFiles stands for ksystest's own files: the checkout's.
var builtinFiles = os.DirFS("../..")

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func TestLoadDefaultMatrixAndCatalogue(t *testing.T) {
	m, err := Load("../../matrix.yaml", builtinFiles)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(m.Targets.List), 3)
	for _, tg := range m.Targets.List {
		assert.NotEmpty(t, tg.Kernel.Flavour+tg.Kernel.Package, tg.Name)
		assert.Equal(t, 512, tg.MemoryMB)
		assert.Equal(t, DefaultExecMemoryMB, tg.ExecMemoryMB(), "exec guests get more unless the matrix says")
	}
	m, err = Load(writeFile(t, "matrix.yaml", "apiVersion: ksystest/v1\ntargets:\n  - arch: x86_64\n    kernel: {suite: bookworm}\n    syscallWrapper: true\n    memoryMB: 768\n"), builtinFiles)
	require.NoError(t, err)
	assert.Equal(t, 768, m.Targets.List[0].MemoryMB)
	assert.Equal(t, 768, m.Targets.List[0].ExecMemoryMB(), "the matrix's memoryMB is every guest's")
	cat, err := m.Catalogue()
	require.NoError(t, err)
	splice, ok := cat.Find("splice")
	require.True(t, ok)
	require.Len(t, splice.Args, 6)
	assert.Equal(t, ArgValue("0x4444000000004404"), splice.Args[3].Value)
	assert.Equal(t, ExpectMatch, splice.Args[3].Expect.For("x86_64"))
	s390x, err := arch.Lookup("s390x")
	require.NoError(t, err)
	p := ProtoOf(s390x, cat.Plan(s390x, sysparams.Kernel{}))
	assert.Equal(t, "0x4444000000004404", p.Cases[2].Args[3].Value)
}

// configOf is a kernel that answers only from a config.
func configOf(options ...string) sysparams.Kernel {
	return sysparams.Kernel{Config: func(name string) string {
		if slices.Contains(options, name) {
			return "y"
		}
		return ""
	}}
}

// The catalogue given to each arch's agent holds only its cases, with the
// register order its kernel uses and its packing.
func TestCatalogueForArch(t *testing.T) {
	cat, err := LoadCatalogue("../../bpf/cases.yaml")
	require.NoError(t, err)
	kernels := map[string]sysparams.Kernel{
		"s390x":  configOf("CLONE_BACKWARDS2"),
		"x86_64": configOf(),
		"arm64":  configOf("CLONE_BACKWARDS"),
	}
	byName := func(a string) map[string]Planned {
		ar, err := arch.Lookup(a)
		require.NoError(t, err)
		m := map[string]Planned{}
		planned := cat.Plan(ar, kernels[a])
		for i, c := range ProtoOf(ar, planned).Cases {
			assert.Equal(t, planned[i].Order, c.Order)
			m[c.Name] = planned[i]
		}
		return m
	}
	s390x, x86, arm64 := byName("s390x"), byName("x86_64"), byName("arm64")

	assert.Equal(t, []int{2, 1, 3, 4, 5}, s390x["clone-naive"].Order, "CONFIG_CLONE_BACKWARDS2: newsp first")
	assert.Equal(t, []int{1, 2, 3, 5, 4}, arm64["clone-naive"].Order, "CONFIG_CLONE_BACKWARDS: tls before child_tid")
	assert.Empty(t, x86["clone-naive"].Order)
	assert.True(t, slices.Contains(s390x["mmap-raw-naive"].Pack, "s390x"))
	assert.Contains(t, s390x, "mmap-raw-old-mmap")
	assert.NotContains(t, x86, "mmap-raw-old-mmap")
	assert.NotContains(t, s390x, "compat-write-naive", "no Go port for s390x's 31-bit ABI")
	assert.True(t, x86["compat-clone-naive"].Compat)
	assert.Equal(t, []int{1, 2, 3, 5, 4}, arm64["compat-clone-naive"].Order)

	// The naive probe's swap is derived from the kernel's order.
	assert.Equal(t, "args 1 and 2 swapped", s390x["clone-naive"].Pred.String())
	assert.Equal(t, "args 4 and 5 swapped", arm64["clone-naive"].Pred.String())
	assert.Contains(t, arm64["clone-naive"].Pred.Why, "CONFIG_CLONE_BACKWARDS")
	assert.Nil(t, x86["clone-naive"].Pred)
	for _, p := range []Planned{s390x["clone-naive"], arm64["clone-naive"], x86["clone-aware"]} {
		assert.True(t, p.Kernel.Agree, p.Kernel.Note)
		require.NotNil(t, p.Kernel.Params)
	}
	assert.Equal(t, []string{"flags", "newsp", "parent_tid", "tls", "child_tid"}, arm64["clone-aware"].Kernel.Catalogue)
}

// A catalogue that states an order or a swap the kernel contradicts
// fails as a catalogue error naming the kernel's order.
func TestPlanCatalogueDisagreesWithKernel(t *testing.T) {
	cd := CaseDef{Name: "clone-naive", Probe: "naive_clone", Syscall: "clone", Via: proto.ViaRaw, Role: RoleNaive, Quirk: "clone",
		Args:  []ArgDef{{Name: "flags"}, {Name: "newsp"}, {Name: "parent_tid"}, {Name: "child_tid"}, {Name: "tls"}},
		Order: map[string][]int{"arm64": {1, 2, 3, 4, 5}}}
	arm64, err := arch.Lookup("arm64")
	require.NoError(t, err)
	p := plan(cd, arm64, configOf("CLONE_BACKWARDS"))
	assert.False(t, p.Kernel.Agree)
	assert.Equal(t, "the catalogue's order on arm64 puts (flags, newsp, parent_tid, child_tid, tls) in the registers, "+
		"but the kernel's config CONFIG_CLONE_BACKWARDS is (clone_flags, newsp, parent_tidptr, tls, child_tidptr)", p.Kernel.Note)

	cd.Order = nil
	cd.Quirks = map[string]Prediction{"arm64": {Swap: []int{1, 2}}}
	p = plan(cd, arm64, configOf("CLONE_BACKWARDS"))
	assert.False(t, p.Kernel.Agree)
	assert.Contains(t, p.Kernel.Note, "the catalogue predicts args 1 and 2 swapped, but the kernel's config CONFIG_CLONE_BACKWARDS")
	assert.Contains(t, p.Kernel.Note, "implies args 4 and 5 swapped")

	x86, err := arch.Lookup("x86_64")
	require.NoError(t, err)
	cd.Quirks = map[string]Prediction{"x86_64": {Swap: []int{4, 5}}}
	p = plan(cd, x86, configOf())
	assert.False(t, p.Kernel.Agree, "a swap predicted where the kernel keeps the order")
	assert.Contains(t, p.Kernel.Note, "keeps the catalogue's order")
	cd.Quirks = nil

	// A label that names a parameter in another place stays an error:
	// here the catalogue's order says so.
	cd.Order = map[string][]int{"x86_64": {1, 2, 3, 4, 5}}
	cd.Args[3].Name, cd.Args[4].Name = "tls", "child_tid"
	p = plan(cd, x86, configOf())
	assert.False(t, p.Kernel.Agree)
	assert.Contains(t, p.Kernel.Note, "the catalogue's order on x86_64 puts (flags, newsp, parent_tid, tls, child_tid) in the registers")
}

func TestCatalogueQuirkValidation(t *testing.T) {
	f := writeFile(t, "cases.yaml", `apiVersion: ksystest/v1
cases:
  - name: c
    probe: naive_clone
    syscall: clone
    role: naive
    order: {s390x: [2, 2, 3]}
    args:
      - {name: a, value: 1}
      - {name: b, value: 2}
      - {name: c, value: 3}
    quirks:
      s390x: {swap: [1, 9]}
      mips: {never: true, pointer: true}
  - name: d
    probe: compat_write
    syscall: write
    compat: true
    via: go:net.Dial
    args:
      - {name: a, value: 0x100000000}
`)
	_, err := LoadCatalogue(f)
	require.Error(t, err)
	for _, want := range []string{
		"cases[0].quirk: naive and aware cases name their quirk",
		"cases[0].order.s390x: [2 2 3] is not an order of the 3 passed arguments",
		"cases[0].quirks.s390x.swap: [1 9]",
		`cases[0].quirks.mips: unknown arch "mips"`,
		"cases[0].quirks.mips: give exactly one of swap, never, pointer",
		`cases[1].args[0].value: "0x100000000" does not fit the 32 bits`,
		"cases[1].compat: compat cases make raw calls only",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestDefaults(t *testing.T) {
	f := writeFile(t, "m.yaml", `apiVersion: ksystest/v1
targets:
  - arch: arm64
    kernel: {suite: bookworm}
    syscallWrapper: true
    bootTimeout: 2m
`)
	m, err := Load(f, builtinFiles)
	require.NoError(t, err)
	tg := m.Targets.List[0]
	assert.Equal(t, "arm64-bookworm", tg.Name)
	assert.Equal(t, "arm64", tg.Kernel.Flavour)
	assert.Equal(t, Duration(2*time.Minute), tg.BootTimeout)
	assert.Equal(t, DefaultExecCPUs, tg.CPUs, "exec guests run multi-CPU tests by default")
	assert.Empty(t, tg.Modules)
	assert.Equal(t, []string{BuiltinCatalogue}, m.Catalogues, "ksystest's own cases unless the file has its own")
}

func TestStrictDecodeNamesFileLineKey(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key": {`apiVersion: ksystest/v1
targets:
  - arch: x86_64
    kernal: {suite: bookworm}
`, `:4: `},
		"bad type": {`apiVersion: ksystest/v1
targets:
  - arch: x86_64
    memoryMB: lots
`, `:4: `},
	} {
		t.Run(name, func(t *testing.T) {
			f := writeFile(t, "matrix.yaml", tc.yaml)
			_, err := Load(f, builtinFiles)
			require.Error(t, err)
			assert.Contains(t, err.Error(), f+tc.want)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
		})
	}
	_, err := Load(writeFile(t, "matrix.yaml", "apiVersion: ksystest/v1\ntargets:\n  - arch: x86_64\n    kernal: {}\n"), builtinFiles)
	assert.Contains(t, err.Error(), "kernal")
	_, err = Load(writeFile(t, "matrix.yaml", "apiVersion: ksystest/v1\ntargets:\n  - arch: x86_64\n    memoryMB: lots\n"), builtinFiles)
	assert.Contains(t, err.Error(), "memoryMB")
}

func TestValidateReportsEveryProblemWithLine(t *testing.T) {
	f := writeFile(t, "matrix.yaml", `apiVersion: ksystest/v1
targets:
  - name: a
    arch: sparc
    kernel: {suite: bookworm}
    syscallWrapper: true
  - name: a
    arch: x86_64
    kernel: {suite: bookworm, package: zsh}
`)
	_, err := Load(f, builtinFiles)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	got := map[string]int{}
	for _, p := range ce.Problems {
		got[p.Path] = p.Line
	}
	assert.Equal(t, map[string]int{
		"targets[0].arch":           4,
		"targets[1].name":           7,
		"targets[1].kernel.package": 9,
		"targets[1].syscallWrapper": 7, // a missing key: the line of its mapping
	}, got)
	assert.Contains(t, err.Error(), f+":4: targets[0].arch: unknown arch \"sparc\"")
}

func TestCatalogueValidation(t *testing.T) {
	f := writeFile(t, "cases.yaml", `apiVersion: ksystest/v1
cases:
  - name: w
    probe: ksys_write
    syscall: write
    args:
      - {name: fd, value: "pipe:3"}
      - {name: n, value: 1, expect: maybe}
`)
	_, err := LoadCatalogue(f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), f+":7: cases[0].args[0].value")
	assert.Contains(t, err.Error(), f+":8: cases[0].args[1].expect")
}

func TestSelect(t *testing.T) {
	m, err := Load("../../matrix.yaml", builtinFiles)
	require.NoError(t, err)
	sel, err := m.Select("arm64*")
	require.NoError(t, err)
	require.Len(t, sel, 3)
	assert.Equal(t, "arm64", sel[0].Arch)
	sel, err = m.Select("*-6.1")
	require.NoError(t, err)
	assert.Len(t, sel, 7)
	sel, err = m.Select("x86_64-6.1, arm64-*")
	require.NoError(t, err)
	require.Len(t, sel, 4)
	assert.Equal(t, "x86_64-6.1", sel[0].Name, "matrix order, not the pattern's")
	_, err = m.Select("[")
	assert.Error(t, err)
}

func TestLocalKernel(t *testing.T) {
	f := writeFile(t, "matrix.yaml", `apiVersion: ksystest/v1
targets:
  - arch: arm64
    kernel: {local: {vmlinuz: k/Image, config: k/config}}
    syscallWrapper: true
    btf: k/vmlinux.btf
  - arch: x86_64
    kernel: {suite: bookworm, local: {config: c}}
    syscallWrapper: true
`)
	_, err := Load(f, builtinFiles)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "matrix.yaml:8: targets[1].kernel.local: a local kernel takes no suite")
	assert.Contains(t, err.Error(), "targets[1].kernel.local.vmlinuz: missing")
	assert.NotContains(t, err.Error(), "targets[0]")

	ok := writeFile(t, "matrix.yaml", `apiVersion: ksystest/v1
targets:
  - arch: arm64
    kernel: {local: {vmlinuz: k/Image, config: k/config}}
    syscallWrapper: true
    btf: k/vmlinux.btf
`)
	m, err := Load(ok, builtinFiles)
	require.NoError(t, err)
	tg := m.Targets.List[0]
	dir := filepath.Dir(ok)
	assert.Equal(t, "arm64-local", tg.Name)
	assert.Equal(t, filepath.Join(dir, "k/Image"), tg.Kernel.Local.Vmlinuz)
	assert.Equal(t, filepath.Join(dir, "k/vmlinux.btf"), tg.BTF)
	assert.Empty(t, tg.Kernel.Flavour)
}

// A project's config names ksystest's default targets and brings its own
// collection and cases, beside ksystest's own catalogue.
func TestProjectConfig(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ksystest.yaml")
	require.NoError(t, os.WriteFile(f, []byte(`apiVersion: ksystest/v1
targets: default
catalogues: [builtin]
collections:
  - name: macro
    source: bpf/macro.bpf.c
    includes: [bpf/include]
    constants: {filter_pid: "${pid}"}
cases:
  - name: my-prctl
    collection: macro
    syscall: prctl
    args:
      - {name: option, value: 1001}
      - {name: arg2, value: 12}
    captures:
      - name: syscall
        program: handle_sys_prctl
        args:
          - {global: arg1, expect: {default: match, arm64: differ, s390x: differ}}
          - {global: arg2}
      - name: ring
        program: prctl_enter
        emit: 1
        args: [{}, {expect: ignore}]
`), 0o644))
	m, err := Load(f, builtinFiles)
	require.NoError(t, err)
	def, err := Load("../../matrix.yaml", builtinFiles)
	require.NoError(t, err)
	assert.Equal(t, def.Targets.List, m.Targets.List, "targets: default is the default matrix's")
	cat, err := m.Catalogue()
	require.NoError(t, err)
	mine, ok := cat.Find("my-prctl")
	require.True(t, ok)
	_, ok = cat.Find("splice")
	assert.True(t, ok, "ksystest's own cases run too")
	require.Len(t, cat.Collections, 1)
	col := cat.Collections[0]
	assert.Equal(t, filepath.Join(dir, "bpf/macro.bpf.c"), col.SourcePath())
	assert.Equal(t, []string{filepath.Join(dir, "bpf/include")}, col.IncludePaths())
	assert.Equal(t, ArgValue("${pid}"), col.Constants["filter_pid"])
	assert.Equal(t, "differ", mine.Captures[0].Args[0].Expect.For("arm64"))
	assert.Equal(t, "match", mine.Captures[0].Args[0].Expect.For("x86_64"))

	a, err := arch.Lookup("s390x")
	require.NoError(t, err)
	p := (&Catalogue{Cases: []CaseDef{mine}}).Plan(a, sysparams.Kernel{})[0]
	assert.Equal(t, [][]string{{"differ", "match"}, {"match", "ignore"}}, p.SetExpect)
	pc := ProtoOf(a, []Planned{p}).Cases[0]
	assert.Equal(t, "macro", pc.Collection)
	assert.Equal(t, "arg1", pc.Captures[0].Args[0].Global)
	assert.Equal(t, 1, *pc.Captures[1].Emit)
}

func TestProjectConfigProblems(t *testing.T) {
	f := writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: mine
collections:
  - name: ksystest
    source: a.c
    objects: {x86_64: a.o}
  - name: b
    objects: {sparc: b.o}
    constants: {pid: self}
cases:
  - name: c
    collection: b
    syscall: prctl
    args: [{name: option, value: 1}]
    captures:
      - name: s
        program: p
        args: [{global: x, map: m, key: 1}, {global: y}]
  - name: d
    collection: nowhere
    syscall: prctl
    probe: p
    args: []
`)
	m, err := Load(f, builtinFiles)
	require.Error(t, err)
	for _, want := range []string{
		`targets: "mine": want a list of targets, or "default"`,
		`collections[0].name: "ksystest" is taken`,
		"collections[0]: give source (compiled for each target's arch) or objects (prebuilt, by arch), not both",
		`collections[1].objects: unknown arch "sparc"`,
		`collections[1].constants.pid: "self": want a number, ${pid} or ${tid}`,
		"cases[0].captures[0].args: 2 readings for the case's 1 arguments",
		"cases[0].captures[0].args[0]: give global or map (or expect: ignore)",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Nil(t, m)

	f = writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: default
cases:
  - name: d
    collection: nowhere
    syscall: prctl
    probe: p
    args: []
`)
	m, err = Load(f, builtinFiles)
	require.NoError(t, err)
	_, err = m.Catalogue()
	assert.ErrorContains(t, err, `case "d": collection "nowhere" is in none of the catalogues`)
}

// The lock is a file of its own: ksystest lock overwrites it.
func TestLockMustNotBeTheMatrixOrCatalogue(t *testing.T) {
	for _, lock := range []string{"matrix.yaml", "./bpf/../bpf/cases.yaml"} {
		f := writeFile(t, "matrix.yaml", "apiVersion: ksystest/v1\nlock: "+lock+"\ncatalogues: [bpf/cases.yaml]\ntargets:\n  - arch: arm64\n    kernel: {suite: bookworm}\n    syscallWrapper: true\n")
		_, err := Load(f, builtinFiles)
		require.Error(t, err, lock)
		assert.Contains(t, err.Error(), f+":2: lock: ")
		assert.Contains(t, err.Error(), "would overwrite")
	}
	m, err := Load(writeFile(t, "matrix.yaml", "apiVersion: ksystest/v1\nlock: images/kernels.lock\ntargets:\n  - arch: arm64\n    kernel: {suite: bookworm}\n    syscallWrapper: true\n"), builtinFiles)
	require.NoError(t, err)
	l, ok := m.LockFile()
	require.True(t, ok)
	assert.Equal(t, filepath.Join(filepath.Dir(m.File), "images/kernels.lock"), l.Disk)
}

// targets: default are pinned by ksystest's own lock unless the file names
// its own; the builtin matrix by the lock carried beside it.
func TestDefaultTargetsTakeTheBuiltinLock(t *testing.T) {
	m, err := Load(writeFile(t, "ksystest.yaml", "apiVersion: ksystest/v1\ntargets: default\n"), builtinFiles)
	require.NoError(t, err)
	l, ok := m.LockFile()
	require.True(t, ok)
	assert.Empty(t, l.Disk, "ksystest's own lock cannot be written")
	assert.Equal(t, "ksystest's images/kernels.lock", l.Name)
	data, err := l.Read()
	require.NoError(t, err)
	assert.Contains(t, string(data), "kernels:")

	m, err = LoadBuiltin(builtinFiles)
	require.NoError(t, err)
	l, ok = m.LockFile()
	require.True(t, ok)
	assert.Empty(t, l.Disk)

	m, err = Load(writeFile(t, "ksystest.yaml", "apiVersion: ksystest/v1\ntargets: default\nlock: my.lock\n"), builtinFiles)
	require.NoError(t, err)
	l, ok = m.LockFile()
	require.True(t, ok)
	assert.Equal(t, filepath.Join(filepath.Dir(m.File), "my.lock"), l.Disk)

	m, err = Load(writeFile(t, "ksystest.yaml", "apiVersion: ksystest/v1\ntargets:\n  - arch: arm64\n    kernel: {suite: bookworm}\n    syscallWrapper: true\n"), builtinFiles)
	require.NoError(t, err)
	_, ok = m.LockFile()
	assert.False(t, ok)
}

// aliasBomb is a catalogue whose one argument value expands to 10⁹ nodes.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("apiVersion: ksystest/v1\ncases:\n  - name: bomb\n    probe: p\n    syscall: write\n    args:\n      - name: a\n        value: [&a0 [x, x, x, x, x, x, x, x, x, x]")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, ", &a%d [%s]", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	b.WriteString("]\n")
	return b.String()
}

// Config files are bounded input: what would crash the decoder, make it
// work without end, or read without end is a config error naming the
// file, said at once.
func TestConfigInputIsBounded(t *testing.T) {
	big := "apiVersion: ksystest/v1\n# " + strings.Repeat("x", 1<<20) + "\n"
	for name, tc := range map[string]struct{ yaml, file, want string }{
		"decoder panic":     {"apiVersion: ksystest/v1\ncases: !\n", "matrix.yaml", "YAML the decoder cannot read"},
		"alias bomb":        {aliasBomb(), "matrix.yaml", "aliases expand to more than 10000 nodes"},
		"too big":           {big, "matrix.yaml", "larger than 1024 KiB"},
		"endless catalogue": {"apiVersion: ksystest/v1\ncatalogues: [/dev/zero]\ntargets: default\n", "/dev/zero", "not a regular file but a device"},
		"catalogue dir":     {"apiVersion: ksystest/v1\ncatalogues: [sub]\ntargets: default\n", "sub", "not a regular file but a directory"},
		"big catalogue":     {"apiVersion: ksystest/v1\ncatalogues: [big.yaml]\ntargets: default\n", "big.yaml", "larger than 1024 KiB"},
		"alias in itself":   {"apiVersion: ksystest/v1\ntargets: &t [{arch: arm64, kernel: {suite: bookworm}, syscallWrapper: *t}]\n", "matrix.yaml", "line 2: alias *t is inside its own anchor"},
		"deep nesting":      {"apiVersion: ksystest/v1\ncases: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n", "matrix.yaml", "collections nest more than 100 deep"},
	} {
		t.Run(name, func(t *testing.T) {
			f := writeFile(t, "matrix.yaml", tc.yaml)
			dir := filepath.Dir(f)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(big), 0o644))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
			start := time.Now()
			m, err := Load(f, builtinFiles)
			if err == nil {
				_, err = m.Catalogue()
			}
			require.Error(t, err)
			assert.Less(t, time.Since(start), 5*time.Second)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			if !filepath.IsAbs(tc.file) {
				tc.file = filepath.Join(dir, tc.file)
			}
			assert.Contains(t, err.Error(), tc.file+": "+tc.want)
		})
	}
	_, err := LoadCatalogue(writeFile(t, "cases.yaml", aliasBomb()))
	assert.ErrorContains(t, err, "aliases expand to more than 10000 nodes")

	// Aliases that reuse settings are fine.
	m, err := Load(writeFile(t, "matrix.yaml", `apiVersion: ksystest/v1
targets:
  - &x86 {arch: x86_64, kernel: {suite: bookworm}, syscallWrapper: true}
  - {<<: *x86, name: second}
`), builtinFiles)
	require.NoError(t, err)
	assert.Len(t, m.Targets.List, 2)
}

// Values are checked at load against what the agent and the archive will
// take: a value that does not fit is a config error with file, line and
// key, not a kernel's failure in the guest.
func TestValueRangesAtLoad(t *testing.T) {
	f := writeFile(t, "matrix.yaml", `apiVersion: ksystest/v1
targets:
  - arch: x86_64
    kernel: {suite: "../../../tmp/x", package: "linux-image-../x"}
    syscallWrapper: true
    bootTimeout: -5s
    memoryMB: 99999999
    btf: "a\nb"
  - arch: arm64
    kernel: {suite: bookworm}
    syscallWrapper: true
    cpus: 17
    modules: [veth, "../x", "dummy"]
  - arch: s390x
    kernel: {suite: bookworm}
    syscallWrapper: true
    cpus: -1
cases:
  - name: big
    probe: p
    syscall: splice
    args:
      - {name: a, value: 99999999999999999999}
      - {name: b, value: "-9223372036854775809"}
      - {name: c, value: 0x10000000000000000}
      - {name: d, value: buf:0}
      - {name: e, value: "sockaddr:10.0.0.1:65536"}
      - {name: f, value: deref:6}
  - name: fine
    probe: p
    syscall: splice
    args:
      - {name: a, value: 18446744073709551615}
      - {name: b, value: "-9223372036854775808"}
      - {name: c, value: 0xffffffffffffffff}
      - {name: d, value: buf:1048576}
      - {name: e, value: "sockaddr:10.0.0.1:65535"}
      - {name: f, value: deref:5}
  - name: octal
    probe: p
    syscall: write
    args: [{name: a, value: "09"}]
`)
	_, err := Load(f, builtinFiles)
	require.Error(t, err)
	for _, want := range []string{
		`:4: targets[0].kernel.suite: "../../../tmp/x" is not a Debian suite name`,
		`:4: targets[0].kernel.package: "linux-image-../x" is not a Debian package name`,
		`:6: targets[0].bootTimeout: -5s: want a positive duration`,
		`:7: targets[0].memoryMB: 99999999: a guest gets at most 1048576`,
		`:8: targets[0].btf: `,
		`:12: targets[1].cpus: 17: want 1 to 16`,
		`:13: targets[1].modules[1]: "../x" is not a kernel module's name`,
		`:17: targets[2].cpus: -1: want 1 to 16`,
		`:23: cases[0].args[0].value: "99999999999999999999": does not fit in 64 bits`,
		`:24: cases[0].args[1].value: "-9223372036854775809": does not fit in 64 bits`,
		`:25: cases[0].args[2].value: "0x10000000000000000": does not fit in 64 bits`,
		`:26: cases[0].args[3].value: "buf:0": a buffer of 1 to 1048576 bytes`,
		`:27: cases[0].args[4].value: "sockaddr:10.0.0.1:65536": want sockaddr:IPv4:PORT`,
		`:28: cases[0].args[5].value: "deref:6": argument 6 is not another argument that is passed`,
		`:42: cases[2].args[0].value: "09": not a number the agent reads`,
	} {
		assert.Contains(t, err.Error(), f+want)
	}
	assert.NotContains(t, err.Error(), "cases[1]")
}

// A catalogue may not name two cases alike (verdicts are kept by name),
// nor give a case more than the six arguments a probe reports, whether
// in one file or across the matrix's catalogues.
func TestCatalogueDuplicatesAndArgCount(t *testing.T) {
	f := writeFile(t, "cases.yaml", `apiVersion: ksystest/v1
cases:
  - {name: w, probe: ksys_write, syscall: write, args: [{name: fd, value: 1}]}
  - {name: w, probe: ksys_write, syscall: write, args: [{name: fd, value: 2}]}
  - name: seven
    probe: p
    syscall: splice
    args: [{name: a, value: 1}, {name: b, value: 2}, {name: c, value: 3}, {name: d, value: 4}, {name: e, value: 5}, {name: f, value: 6}, {name: g, value: 7}]
  - name: six
    probe: p
    syscall: splice
    args: [{name: a, value: 1}, {name: b, value: 2}, {name: c, value: 3}, {name: d, value: 4}, {name: e, value: 5}, {name: f, value: 6}]
`)
	_, err := LoadCatalogue(f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), f+`:4: cases[1].name: duplicate case "w"`)
	assert.Contains(t, err.Error(), f+":8: cases[2].args: 7 arguments; a probe reports at most 6")
	assert.NotContains(t, err.Error(), "cases[3]")

	dir := filepath.Dir(f)
	require.NoError(t, os.WriteFile(f, []byte("apiVersion: ksystest/v1\ncases:\n  - {name: w, probe: ksys_write, syscall: write}\n"), 0o644))
	m, err := Load(writeFileIn(t, dir, "matrix.yaml", "apiVersion: ksystest/v1\ncatalogues: [cases.yaml]\ntargets: default\n"+
		"cases:\n  - {name: w, probe: ksys_write, syscall: write}\n"), builtinFiles)
	require.NoError(t, err)
	_, err = m.Catalogue()
	assert.ErrorContains(t, err, `cases[0].name: case "w" is also in `+f)
}

func writeFileIn(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// agentResources stands for the guest's resources when trigger reads
// argument values on the host.
type agentResources struct{}

func (agentResources) OpenFD(string) (uint64, error)             { return 3, nil }
func (agentResources) Socket() (uint64, error)                   { return 4, nil }
func (agentResources) Buffer(int, []byte) (uint64, error)        { return 0x1000, nil }
func (agentResources) Peek(uint64, int) ([]byte, error)          { return make([]byte, 8), nil }
func (agentResources) TLS() (arg uint64, want uint64, err error) { return 0x2000, 0x2000, nil }

// Of the values the catalogue's grammar allows, load refuses exactly those
// the agent cannot read: what passes here never fails a case in the guest
// for its spec, and no value the agent reads is refused for its range.
func TestValuesAsTheAgentReadsThem(t *testing.T) {
	for _, v := range []string{
		"0", "18446744073709551615", "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
		"0x0", "0xffffffffffffffff", "0x10000000000000000", "0777", "09", "-0x10",
		"buf:1", "buf:1048576", "buf:1048577", "buf:0", "buf:99999999999999999999",
		"sockaddr:127.0.0.1:80", "sockaddr:127.0.0.1:65536", "sockaddr:256.0.0.1:80", "sockaddr:1.2.3:80",
		"deref:1", "deref:2", "deref:3", "fd:/dev/null", "socket:inet", "tls", "any",
	} {
		args := []ArgDef{{Name: "a", Value: "buf:8"}, {Name: "b", Value: ArgValue(v)}}
		_, err := trigger.ResolveArgs([]proto.Arg{{Name: "a", Value: "buf:8"}, {Name: "b", Value: v}}, agentResources{})
		if !valueRE.MatchString(v) {
			continue // a form the catalogue does not take (-0x10), whatever the agent would make of it
		}
		assert.Equal(t, err == nil, checkValue(args, 1) == "", "%s: the agent says %v", v, err)
	}
}

// A user's collection runs once per loader: each case is planned per
// loader, named NAME@LOADER, and where the collection says a loader
// refuses it on a target, predicted not to load there (and only there).
func TestLoadersPlanEachCasePerLoader(t *testing.T) {
	f := writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: default
loaders: [cilium/ebpf, ksystest]
collections:
  - name: macro
    source: macro.bpf.c
    loadFails:
      - loader: cilium/ebpf
        targets: [arm-6.12, "riscv64-*"]
        why: it cannot tell the wrapper there
  - name: other
    source: other.bpf.c
    loaders: [ksystest]
cases:
  - name: my-prctl
    collection: macro
    syscall: prctl
    args: [{name: option, value: 1001}]
    captures:
      - {name: s, program: p, args: [{global: x}]}
  - name: their-prctl
    collection: other
    syscall: prctl
    args: [{name: option, value: 1001}]
    captures:
      - {name: s, program: p, args: [{global: x}]}
`)
	m, err := Load(f, builtinFiles)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	require.NoError(t, err)
	a, err := arch.Lookup("arm")
	require.NoError(t, err)
	names := func(ps []Planned) (out []string) {
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	ps, notes := cat.PlanTarget("arm-6.1", a, sysparams.Kernel{})
	assert.Empty(t, notes)
	assert.Equal(t, []string{"my-prctl@cilium/ebpf", "my-prctl@ksystest", "their-prctl@ksystest"}, names(ps))
	for _, p := range ps {
		assert.Nil(t, p.Pred, "%s: arm-6.1 is not declared", p.Name)
	}
	pc := ProtoOf(a, ps)
	assert.Equal(t, []string{"macro@cilium/ebpf", "macro@ksystest", "other@ksystest"},
		[]string{pc.Cases[0].Collection, pc.Cases[1].Collection, pc.Cases[2].Collection})

	ps, _ = cat.PlanTarget("arm-6.12", a, sysparams.Kernel{})
	require.NotNil(t, ps[0].Pred)
	assert.True(t, ps[0].Pred.Refused)
	assert.Contains(t, ps[0].Pred.Why, "cilium/ebpf refuses it on arm-6.12: it cannot tell the wrapper there")
	assert.Nil(t, ps[1].Pred, "the ksystest loader is not declared to refuse it")
	r, err := arch.Lookup("riscv64")
	require.NoError(t, err)
	ps, _ = cat.PlanTarget("riscv64-6.12", r, sysparams.Kernel{})
	require.NotNil(t, ps[0].Pred, "patterns match target names")
	assert.True(t, ps[0].Pred.Refused)

	// Without loaders anywhere, cilium/ebpf alone.
	f = writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: default
collections:
  - {name: macro, source: macro.bpf.c}
cases:
  - name: my-prctl
    collection: macro
    syscall: prctl
    args: [{name: option, value: 1001}]
    captures:
      - {name: s, program: p, args: [{global: x}]}
`)
	m, err = Load(f, builtinFiles)
	require.NoError(t, err)
	cat, err = m.Catalogue()
	require.NoError(t, err)
	assert.Equal(t, DefaultLoaders, cat.Collections[0].Loaders)
	ps, notes = cat.PlanTarget("arm-6.1", a, sysparams.Kernel{})
	assert.Equal(t, []string{"my-prctl@cilium/ebpf", "my-prctl@libbpf-1.5"}, names(ps), "libbpf: the newest Debian ships for the arch")
	assert.Empty(t, notes)
	mips, err := arch.Lookup("mips64el")
	require.NoError(t, err)
	ps, _ = cat.PlanTarget("mips64el-6.1", mips, sysparams.Kernel{})
	assert.Equal(t, []string{"my-prctl@cilium/ebpf", "my-prctl@libbpf-1.1"}, names(ps), "trixie has no libbpf for mips64el")

	// A libbpf Debian does not ship for the arch runs nothing there, and
	// says so.
	f = writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: default
loaders: [libbpf-1.5]
collections:
  - {name: macro, source: macro.bpf.c}
cases:
  - name: my-prctl
    collection: macro
    syscall: prctl
    args: [{name: option, value: 1001}]
    captures:
      - {name: s, program: p, args: [{global: x}]}
`)
	m, err = Load(f, builtinFiles)
	require.NoError(t, err)
	cat, err = m.Catalogue()
	require.NoError(t, err)
	ps, notes = cat.PlanTarget("mips64el-6.1", mips, sysparams.Kernel{})
	assert.Empty(t, ps)
	assert.Equal(t, []string{"collection macro: Debian ships no libbpf-1.5 for mips64el, so its cases are not run under it here"}, notes)
}

func TestLoadersProblems(t *testing.T) {
	f := writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: default
loaders: [bcc]
collections:
  - name: macro
    source: macro.bpf.c
    loaders: [cilium/ebpf, cilium/ebpf]
    loadFails:
      - {loader: ksystest, targets: [arm-6.12], why: x}
      - {loader: cilium/ebpf, targets: ["[bad"], why: " "}
      - {loader: cilium/ebpf}
`)
	_, err := Load(f, builtinFiles)
	require.Error(t, err)
	for _, want := range []string{
		`loaders[0]: "bcc": want one of cilium/ebpf, libbpf, libbpf-1.1, libbpf-1.5, ksystest`,
		`collections[0].loaders[1]: "cilium/ebpf" twice`,
		`collections[0].loadFails[0].loader: "ksystest" does not load this collection (loaders: cilium/ebpf, cilium/ebpf)`,
		`collections[0].loadFails[1].targets[0]: "[bad": want a target name or a pattern such as arm-*`,
		`collections[0].loadFails[1].why: say why the loader refuses it there`,
		`collections[0].loadFails[2].targets: name the targets`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

// A set read from the program's own records takes fields, a record type,
// and at most one of tid and pid; fields go with events only; str: is a
// string without NUL.
func TestRecordCaptureProblems(t *testing.T) {
	f := writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: default
collections:
  - name: snoop
    source: snoop.bpf.c
cases:
  - name: good
    collection: snoop
    syscall: openat
    args: [{value: -100}, {value: "str:/etc/hostname"}, {value: 0}, {value: 0}]
    captures:
      - name: event
        program: enter
        programs: [exit]
        events: events
        record: event
        tid: tid
        select: {op: 1}
        args: [{field: dfd}, {field: path}, {field: "args[2]"}, {field: addr.sin_port}]
  - name: bad
    collection: snoop
    syscall: openat
    args: [{value: -100}, {value: "str:"}, {value: 0}]
    captures:
      - name: event
        program: enter
        programs: [enter, "x-y"]
        events: events
        tid: tid
        pid: pid
        select: {"op-": x}
        args: [{global: g}, {field: "1path"}, {}]
      - name: globals
        program: enter
        record: event
        args: [{field: dfd}, {global: a}, {global: b}]
      - name: both
        program: enter
        emit: 1
        events: events
        record: event
        args: [{expect: ignore}, {expect: ignore}, {expect: ignore}]
`)
	_, err := Load(f, builtinFiles)
	require.Error(t, err)
	for _, want := range []string{
		`cases[1].args[1].value: "str:": want a number`,
		`cases[1].captures[0].programs[0]: "enter": name another BPF program, once`,
		`cases[1].captures[0].programs[1]: "x-y": name another BPF program, once`,
		`cases[1].captures[0].record: "": name the struct of its records`,
		"cases[1].captures[0]: name the thread's field (tid) or the process's (pid), not both",
		`cases[1].captures[0].select: "op-": a field of the record`,
		`cases[1].captures[0].select.op-: "x": want a number`,
		"cases[1].captures[0].args[0]: a set read from the program's records takes fields, not globals or maps",
		`cases[1].captures[0].args[1].field: "1path": a field of the record`,
		"cases[1].captures[0].args[2]: give field (or expect: ignore)",
		"cases[1].captures[1]: record, tid, pid and select go with events",
		"cases[1].captures[1].args[0].field: a field is read from the records the program writes: give the set events and record",
		"cases[1].captures[2].events: a set reads the program's own records (events) or ksystest's ring buffer (emit), not both",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "cases[0]")
}
