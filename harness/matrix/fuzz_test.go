package matrix

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/sysparams"
	"github.com/ksystest/ksystest/internal/fuzzseed"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the hand-made seeds in testdata/fuzz")

// FuzzLoadMatrix: any matrix file loads, with its catalogues, or is a
// config error that names a file, without a panic; what loads holds what
// Validate promises and plans on every arch.
func FuzzLoadMatrix(f *testing.F) {
	for _, p := range []string{"../../matrix.yaml", "../../examples/syscall-macro/ksystest.yaml", "../../examples/snoop/ksystest.yaml"} {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	dir := f.TempDir()
	file := filepath.Join(dir, "ksystest.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		require.NoError(t, os.WriteFile(file, data, 0o644))
		m, err := Load(file, builtinFiles)
		if err != nil {
			requireConfigError(t, err)
			return
		}
		for _, tg := range m.Targets.List {
			require.Regexp(t, nameRE, tg.Name)
			_, err := arch.Lookup(tg.Arch)
			require.NoError(t, err)
			require.NotNil(t, tg.SyscallWrapper)
			require.Positive(t, time.Duration(tg.BootTimeout))
			require.GreaterOrEqual(t, tg.MemoryMB, 128)
			if tg.Kernel.Local == nil {
				require.Regexp(t, suiteRE, tg.Kernel.Suite)
			}
		}
		cat, err := m.Catalogue()
		if err != nil {
			requireConfigError(t, err)
			return
		}
		requirePlans(t, cat)
	})
}

// FuzzLoadCatalogue: any catalogue file loads or is a config error that
// names it, without a panic; what loads has unique case names, at most
// six arguments a case, values the agent reads, and plans on every arch.
func FuzzLoadCatalogue(f *testing.F) {
	for _, p := range []string{"../run/testdata/wrong-probe.yaml", "../../cmd/ksystest/testdata/byop/byop.yaml"} {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	dir := f.TempDir()
	file := filepath.Join(dir, "cases.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		require.NoError(t, os.WriteFile(file, data, 0o644))
		cat, err := LoadCatalogue(file)
		if err != nil {
			requireConfigError(t, err)
			require.Contains(t, err.Error(), file)
			return
		}
		requirePlans(t, cat)
	})
}

func requireConfigError(t *testing.T, err error) {
	t.Helper()
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.NotEmpty(t, ce.Problems)
	for _, p := range ce.Problems {
		require.NotEmpty(t, p.File, "every problem names its file")
		require.NotEmpty(t, p.Msg)
	}
}

// requirePlans holds a loaded catalogue to what validation promises, and
// plans it for every arch as a run would.
func requirePlans(t *testing.T, cat *Catalogue) {
	t.Helper()
	names := map[string]bool{}
	for _, cd := range cat.Cases {
		require.False(t, names[cd.Name], "duplicate case %q", cd.Name)
		names[cd.Name] = true
		require.LessOrEqual(t, len(cd.Args), 6)
		for i, a := range cd.Args {
			require.Empty(t, checkValue(cd.Args, i), "%s: %s", cd.Name, a.Value)
		}
	}
	for _, a := range arch.All() {
		planned := cat.Plan(a, sysparams.Kernel{})
		p := ProtoOf(a, planned)
		require.Len(t, p.Cases, len(planned))
	}
}

// seedFiles are the hand-made seeds of both targets, committed under
// testdata/fuzz/TARGET/seed-NAME: inputs that once crashed or hung the
// decoder, and the edges of what loads.
func seedFiles() map[string]map[string]string {
	return map[string]map[string]string{
		"FuzzLoadMatrix": {
			"tag-without-name": "apiVersion: ksystest/v1\ncases: !\n",
			"targets-tag":      "apiVersion: ksystest/v1\ntargets: !\n",
			"alias-bomb":       aliasBomb(),
			"merge-key":        "apiVersion: ksystest/v1\ntargets:\n  - &t {arch: arm64, kernel: {suite: bookworm}, syscallWrapper: true}\n  - {<<: *t, name: b, bootTimeout: -5s}\n",
			"local-kernel":     "apiVersion: ksystest/v1\ntargets:\n  - arch: mips64el\n    kernel: {local: {vmlinuz: k, config: c}}\n    syscallWrapper: false\n    memoryMB: 99999999999999999999\n",
			"suite-escape":     "apiVersion: ksystest/v1\nlock: ../l\ncatalogues: [builtin, /dev/zero]\ntargets:\n  - {arch: s390x, kernel: {suite: ../../x}, syscallWrapper: true}\n",
			"default-targets":  "apiVersion: ksystest/v1\ntargets: default\ncases:\n  - {name: c, probe: p, syscall: write, args: [{name: a, value: 99999999999999999999}]}\n",
		},
		"FuzzLoadCatalogue": {
			"tag-in-args":   "apiVersion: ksystest/v1\ncases:\n  - args: !\n",
			"alias-in-self": "apiVersion: ksystest/v1\ncases:\n  - name: c\n    probe: p\n    syscall: write\n    args: [{name: a, value: &a [*a]}]\n",
			"deep":          "apiVersion: ksystest/v1\ncases: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n",
			"alias-bomb":    aliasBomb(),
			"seven-args":    "apiVersion: ksystest/v1\ncases:\n  - name: c\n    probe: p\n    syscall: splice\n    args: [{name: a, value: 1}, {name: b, value: 2}, {name: c, value: 3}, {name: d, value: 4}, {name: e, value: 5}, {name: f, value: 6}, {name: g, value: 7}]\n",
			"duplicates":    "apiVersion: ksystest/v1\ncases:\n  - {name: c, probe: p, syscall: write}\n  - {name: c, probe: p, syscall: write}\n",
			"values":        "apiVersion: ksystest/v1\ncases:\n  - name: v\n    probe: p\n    syscall: mmap\n    order: {s390x: [2, 1]}\n    quirks: {arm64: {swap: [1, 2]}, s390x: {regs: [6, 1]}}\n    args: [{name: a, value: \"-9223372036854775808\"}, {name: b, value: \"deref:1\"}, {name: c, value: \"buf:1048577\"}, {name: d, value: \"sockaddr:1.2.3.4:80\"}, {name: e, value: \"09\"}, {name: f, value: \"fd:/x\"}]\n",
			"captures":      "apiVersion: ksystest/v1\ncollections:\n  - {name: m, objects: {arm64: m.o}, constants: {x: \"0x10000000000000000\"}}\ncases:\n  - name: c\n    collection: m\n    syscall: write\n    args: [{name: a, value: 1}]\n    captures:\n      - {name: s, program: h, args: [{map: m, key: \"${pid}\", size: 3}]}\n      - {name: r, program: h, emit: 256, args: [{}]}\n",
			"expect-alias":  "apiVersion: ksystest/v1\ncases:\n  - name: c\n    probe: p\n    syscall: write\n    args: [{name: a, value: 1, expect: &e {default: differ, arm: ignore}}, {name: b, value: 2, expect: *e}]\n",
		},
	}
}

// TestFuzzSeeds keeps the committed seeds what seedFiles says; run it
// with -update-seeds to write them.
func TestFuzzSeeds(t *testing.T) {
	for target, seeds := range seedFiles() {
		fuzzseed.Check(t, target, seeds, *updateSeeds)
		fuzzseed.NoOthers(t, target, seeds)
	}
}
