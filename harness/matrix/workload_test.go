package matrix

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/sysparams"
)

func workloadCatalogue(t *testing.T) *Catalogue {
	t.Helper()
	m, err := Load(writeFile(t, "ksystest.yaml", "apiVersion: ksystest/v1\ntargets: default\ncatalogues: [builtin, builtin-workloads]\n"), builtinFiles)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	require.NoError(t, err)
	return cat
}

func plannedWorkload(t *testing.T, archName, name string, k sysparams.Kernel) (*PlannedWorkload, []Planned) {
	t.Helper()
	a, err := arch.Lookup(archName)
	require.NoError(t, err)
	planned := workloadCatalogue(t).Plan(a, k)
	for _, p := range planned {
		if p.Name == name {
			require.NoError(t, p.WorkloadErr)
			require.NotNil(t, p.Workload)
			return p.Workload, planned
		}
	}
	t.Fatalf("no case %s on %s", name, archName)
	return nil, nil
}

func forms(pw *PlannedWorkload, prog string) []string {
	for _, pp := range pw.Probes {
		if pp.Program == prog {
			var out []string
			for _, f := range pp.Forms {
				out = append(out, f.Entry+"/"+f.Kind)
			}
			return out
		}
	}
	return nil
}

// The forms of a call come from each ABI's syscall table: old_mmap where
// mmap is one pointer (s390x, i386), mmap2 where the offset is in pages
// (i386, arm), socketcall beside the socket calls where the ABI has it.
func TestWorkloadForms(t *testing.T) {
	for _, tc := range []struct {
		arch, prog string
		want       []string
	}{
		{"x86_64", "aware_mmap", []string{"sys_mmap/direct"}},
		{"s390x", "aware_mmap", []string{"sys_old_mmap/packed"}},
		{"i386", "aware_mmap", []string{"sys_old_mmap/packed", "sys_mmap_pgoff/pages"}},
		{"arm", "aware_mmap", []string{"sys_mmap2/pages"}}, // an asm stub into sys_mmap_pgoff
		{"mips64el", "aware_mmap", []string{"sys_mips_mmap/direct"}},
		{"x86_64", "aware_connect", []string{"sys_connect/direct"}},
		{"s390x", "aware_connect", []string{"sys_connect/direct", "sys_socketcall/socketcall"}},
		{"i386", "aware_connect", []string{"sys_connect/direct", "sys_socketcall/socketcall"}},
		{"arm64", "aware_clone", []string{"sys_clone/direct"}},
	} {
		pw, _ := plannedWorkload(t, tc.arch, "workload-client", sysparams.Kernel{})
		assert.Equal(t, tc.want, forms(pw, tc.prog), "%s on %s", tc.prog, tc.arch)
	}

	// What the tracepoint reads through: the struct of old_mmap, the
	// socketcall array, a direct connect's sockaddr (its deref:2 value).
	pw, _ := plannedWorkload(t, "s390x", "workload-client", sysparams.Kernel{})
	watch := map[int64]proto.Watch{}
	for _, w := range pw.Watch {
		watch[w.NR] = w
	}
	assert.Equal(t, proto.Watch{NR: 90, DerefArg: 0, Words: 6, WordSize: 8}, watch[90])
	assert.Equal(t, proto.Watch{NR: 102, DerefArg: 1, Words: 6, WordSize: 8}, watch[102])
	assert.Equal(t, proto.Watch{NR: 362, DerefArg: 1, Words: 1, WordSize: 8}, watch[362])
	pw, _ = plannedWorkload(t, "i386", "workload-client", sysparams.Kernel{})
	for _, w := range pw.Watch {
		if w.NR == 90 {
			assert.Equal(t, uint8(4), w.WordSize, "i386's old_mmap struct holds 4-byte longs")
		}
	}
}

// No two probes of a round watch one number, so a report is the probe's
// of the number recorded before it; every probe runs in some round.
func TestWorkloadRounds(t *testing.T) {
	for _, a := range arch.All() {
		pw, _ := plannedWorkload(t, a.Name, "workload-client", sysparams.Kernel{})
		placed := map[string]bool{}
		for _, round := range pw.Rounds {
			seen := map[int64]string{}
			for _, p := range round {
				placed[p.Program] = true
				for _, nr := range p.NRs {
					other, clash := seen[nr]
					assert.False(t, clash, "%s: %s and %s both watch nr %d in one round", a.Name, p.Program, other, nr)
					seen[nr] = p.Program
				}
			}
		}
		for _, pp := range pw.Probes {
			assert.True(t, placed[pp.Program], "%s: %s in no round", a.Name, pp.Program)
		}
		// s390x's three mmap probes all watch old_mmap: three rounds.
		if a.Name == "s390x" {
			assert.Len(t, pw.Rounds, 3)
		}
	}
}

// A probe's never prediction comes from a native case of it, not a
// compat one (x86_64's compat cases never fire for native calls).
func TestWorkloadNeverIsNative(t *testing.T) {
	pw, _ := plannedWorkload(t, "x86_64", "workload-client", sysparams.Kernel{})
	for _, pp := range pw.Probes {
		assert.Nil(t, pp.Never, "%s: nothing predicts a native x86_64 call unseen", pp.Program)
	}
	pw, _ = plannedWorkload(t, "s390x", "workload-client", sysparams.Kernel{})
	i := slices.IndexFunc(pw.Probes, func(pp PlannedProbe) bool { return pp.Program == "naive_connect" })
	require.GreaterOrEqual(t, i, 0)
	require.NotNil(t, pw.Probes[i].Never)
	assert.Equal(t, "socketcall", pw.Probes[i].Never.Quirk)
}

func TestWorkloadValidation(t *testing.T) {
	f := writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: default
cases:
  - name: w
    syscall: write
    workload: {program: nope, probes: []}
  - name: v
    workload: {objects: {x86_64: bin/prog}, program: client, probes: [ksys_write], timeout: -1s}
    quirks:
      s390x: {swap: [1, 2], why: two}
      ppc64le: {wrongRegs: true}
      vax: {never: true, why: no such arch}
`)
	_, err := Load(f, builtinFiles)
	require.Error(t, err)
	for _, want := range []string{
		"cases[0]: a workload case has no probe, syscall",
		`cases[0].workload.program: "nope": ksystest carries client, httpget`,
		"cases[0].workload.probes: missing",
		"cases[1].workload: give program",
		"cases[1].workload.timeout: negative",
		"cases[1].quirks.s390x: a workload's probes are predicted per arch with one of never",
		"cases[1].quirks.ppc64le.why: missing",
		`cases[1].quirks.vax: unknown arch "vax"`,
	} {
		assert.Contains(t, err.Error(), want)
	}

	// A probe no case describes cannot be checked.
	m, err := Load(writeFile(t, "ksystest.yaml", "apiVersion: ksystest/v1\ntargets: default\ncatalogues: [builtin-workloads]\n"), builtinFiles)
	require.NoError(t, err)
	_, err = m.Catalogue()
	assert.ErrorContains(t, err, `workload "workload-client": no case uses probe "ksys_write"`)
}

// A workload of a user's tool runs once per loader of its collection,
// named CASE@LOADER, loading COLLECTION@LOADER; each probe reads the
// records of its case's capture set, with that set's expectations, and a
// declared refusal is the workload's prediction too.
func TestWorkloadOfUserCollection(t *testing.T) {
	m, err := Load("../../examples/snoop/ksystest.yaml", builtinFiles)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	require.NoError(t, err)
	for _, tc := range []struct {
		target, arch string
		// refused: both loaders are declared to refuse opensnoop there (no
		// ring buffers before 5.8).
		refused bool
	}{
		{"x86_64-6.12", "x86_64", false},
		{"x86_64-ubuntu-5.4", "x86_64", true},
	} {
		a, err := arch.Lookup(tc.arch)
		require.NoError(t, err)
		planned, _ := cat.PlanTarget(tc.target, a, sysparams.Kernel{})
		var names []string
		for _, p := range planned {
			if p.Workload == nil || !strings.HasPrefix(p.Name, "opensnoop-client@") {
				continue
			}
			names = append(names, p.Name)
			require.NoError(t, p.WorkloadErr)
			pw := p.Workload
			assert.Equal(t, "opensnoop", pw.Collection)
			require.Len(t, pw.Probes, 1)
			pp := pw.Probes[0]
			assert.Equal(t, "trace_openat", pp.Program)
			assert.Equal(t, "opensnoop-openat", pp.Case.Name)
			assert.Equal(t, 0, pp.Set)
			assert.Equal(t, []string{"match", "match", "match", "match"}, pp.Case.Expect)
			require.Len(t, pw.Rounds, 1)
			require.NotNil(t, pw.Rounds[0][0].Set)
			assert.Equal(t, "events", pw.Rounds[0][0].Set.Events)
			assert.Equal(t, "pid", pw.Rounds[0][0].Set.PID)
			assert.Equal(t, []int64{257}, pw.Rounds[0][0].NRs)
			// int dfd, const char __user *filename, int flags, umode_t mode
			require.Len(t, pp.Forms, 1)
			assert.Equal(t, []Param{{4, true}, {8, false}, {4, true}, {2, false}}, pp.Forms[0].Params)
			// The tracepoint copies the path openat's 2nd register points to.
			require.Len(t, pw.Watch, 1)
			assert.Equal(t, []proto.WatchContent{{Arg: 1, Kind: proto.ContentString}}, pw.Watch[0].Contents)

			cat := ProtoOf(a, []Planned{p})
			require.NotNil(t, cat.Cases[0].Workload)
			assert.Equal(t, "opensnoop@"+p.Loader, cat.Cases[0].Workload.Collection)
			if tc.refused {
				require.NotNil(t, p.Pred, p.Name)
				assert.True(t, p.Pred.Refused, p.Name)
			} else {
				assert.Nil(t, p.Pred, p.Name)
			}
		}
		assert.Equal(t, []string{"opensnoop-client@cilium/ebpf", "opensnoop-client@libbpf-1.5"}, names, tc.target)
	}
	// opensnoop_perf's record is written by its exit program, attached
	// with the entry one.
	a, _ := arch.Lookup("arm64")
	planned, _ := cat.PlanTarget("arm64-6.12", a, sysparams.Kernel{})
	i := slices.IndexFunc(planned, func(p Planned) bool { return p.Name == "opensnoop-perf-httpget@cilium/ebpf" })
	require.GreaterOrEqual(t, i, 0)
	set := planned[i].Workload.Rounds[0][0].Set
	require.NotNil(t, set)
	assert.Equal(t, []string{"openat_exit"}, set.Programs)
	assert.Equal(t, "tid", set.TID)
	// connect's address, as many bytes as its 3rd register says.
	i = slices.IndexFunc(planned, func(p Planned) bool { return p.Name == "netsnoop-client@libbpf-1.5" })
	require.GreaterOrEqual(t, i, 0)
	require.Len(t, planned[i].Workload.Watch, 1)
	assert.Equal(t, []proto.WatchContent{{Arg: 1, Kind: proto.ContentSockaddr, LenArg: 2}}, planned[i].Workload.Watch[0].Contents)

	// On mips64el the tracepoint copies no strings at entry (its 6.12
	// kernel oopses): the path is not copied, the address still is.
	a, _ = arch.Lookup("mips64el")
	planned, _ = cat.PlanTarget("mips64el-6.12", a, sysparams.Kernel{})
	i = slices.IndexFunc(planned, func(p Planned) bool { return p.Name == "opensnoop-client@libbpf-1.1" })
	require.GreaterOrEqual(t, i, 0)
	require.NoError(t, planned[i].WorkloadErr)
	require.Len(t, planned[i].Workload.Watch, 1)
	assert.Empty(t, planned[i].Workload.Watch[0].Contents)
	assert.Contains(t, planned[i].Workload.Probes[0].NoStrings, "oopses")
	i = slices.IndexFunc(planned, func(p Planned) bool { return p.Name == "netsnoop-client@libbpf-1.1" })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, []proto.WatchContent{{Arg: 1, Kind: proto.ContentSockaddr, LenArg: 2}}, planned[i].Workload.Watch[0].Contents)
}

// A workload checks one collection's programs, each read from records.
func TestWorkloadOfUserCollectionProblems(t *testing.T) {
	f := writeFile(t, "ksystest.yaml", `apiVersion: ksystest/v1
targets: default
catalogues: [builtin]
collections:
  - {name: one, source: one.bpf.c}
  - {name: two, source: two.bpf.c}
cases:
  - name: rec
    collection: one
    syscall: write
    args: [{value: 1}, {value: "buf:4"}, {value: 4}]
    captures:
      - {name: e, program: on_write, events: events, record: ev, tid: tid, args: [{field: fd}, {expect: ignore}, {field: n}]}
      - {name: g, program: on_write_g, args: [{global: fd}, {expect: ignore}, {global: n}]}
  - name: rec2
    collection: two
    syscall: openat
    args: [{value: -100}, {value: "str:/x"}, {value: 0}, {value: 0}]
    captures:
      - {name: e, program: on_openat, events: events, record: ev, tid: tid, args: [{field: dfd}, {expect: ignore}, {expect: ignore}, {expect: ignore}]}
  - name: mixed
    workload: {program: client, probes: [on_write, on_openat]}
  - name: globals
    workload: {program: client, probes: [on_write_g]}
  - name: with-builtin
    workload: {program: client, probes: [on_write, aware_connect]}
`)
	m, err := Load(f, builtinFiles)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	require.NoError(t, err)
	a, _ := arch.Lookup("x86_64")
	errs := map[string]string{}
	for _, p := range cat.Plan(a, sysparams.Kernel{}) {
		if p.CaseDef.Workload != nil {
			require.Error(t, p.WorkloadErr, p.Name)
			errs[p.Name] = p.WorkloadErr.Error()
		}
	}
	assert.Contains(t, errs["mixed"], "probe on_openat is in collection two, an earlier one in one: a workload's probes come from one collection")
	assert.Contains(t, errs["globals"], "program on_write_g stores its readings in globals or maps (case rec, set g)")
	assert.Contains(t, errs["with-builtin"], "probes of ksystest's and of collection one")
}

// A parameter keeps its type's part of the register, with its sign.
func TestParamOf(t *testing.T) {
	assert.Equal(t, uint64(0xffffffffffffff9c), Param{4, true}.Of(0xffffff9c))
	assert.Equal(t, uint64(0xffffffffffffff9c), Param{4, true}.Of(0xffffffffffffff9c))
	assert.Equal(t, uint64(0x1a0), Param{2, false}.Of(0xdead000000001a0))
	assert.Equal(t, uint64(0xffffff9c), Param{4, false}.Of(0xffffffffffffff9c))
	assert.Equal(t, uint64(0x1234), Param{}.Of(0x1234))
	assert.Equal(t, Param{4, false}, paramOf("unsigned long", 4), "a 32-bit arch's long")
	assert.Equal(t, Param{8, false}, paramOf("const char __user *", 8))
	assert.Equal(t, Param{}, paramOf("struct whatever", 8))
}
