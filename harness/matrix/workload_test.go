package matrix

import (
	"slices"
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
`)
	_, err := Load(f, builtinFiles)
	require.Error(t, err)
	for _, want := range []string{
		"cases[0]: a workload case has no probe, syscall",
		`cases[0].workload.program: "nope": ksystest carries client, httpget`,
		"cases[0].workload.probes: missing",
		"cases[1].workload: give program",
		"cases[1].workload.timeout: negative",
	} {
		assert.Contains(t, err.Error(), want)
	}

	// A probe no case describes cannot be checked.
	m, err := Load(writeFile(t, "ksystest.yaml", "apiVersion: ksystest/v1\ntargets: default\ncatalogues: [builtin-workloads]\n"), builtinFiles)
	require.NoError(t, err)
	_, err = m.Catalogue()
	assert.ErrorContains(t, err, `workload "workload-client": no case uses probe "ksys_write"`)
}
