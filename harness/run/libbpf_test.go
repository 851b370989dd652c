package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
)

// fakeLibbpf gives each libbpf version's helper, or its error.
type fakeLibbpf map[string]error

func (f fakeLibbpf) Path(_ context.Context, version string, a arch.Arch) (string, error) {
	if err := f[version]; err != nil {
		return "", err
	}
	return filepath.Join(os.TempDir(), "ksystest-libbpf-"+version+"."+a.Name), nil
}

// A libbpf helper this host cannot have (no lld 18 or newer for
// riscv64's) takes its loader's cases out of the plan, and a note says
// why; any other failure to build one fails the guest.
func TestPlanLibbpf(t *testing.T) {
	riscv64, err := arch.Lookup("riscv64")
	require.NoError(t, err)
	planned := func() []matrix.Planned {
		var out []matrix.Planned
		for _, l := range []string{proto.LoaderCiliumEBPF, proto.LoaderLibbpf15} {
			for _, name := range []string{"open", "write"} {
				p := matrix.Planned{Loader: l}
				p.Name = matrix.CollectionKey(name, l)
				out = append(out, p)
			}
		}
		return out
	}
	names := func(ps []matrix.Planned) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	ctx := context.Background()

	g := &guest{arch: riscv64, planned: planned()}
	require.NoError(t, g.planLibbpf(ctx, &Options{Libbpf: fakeLibbpf{}}))
	assert.Len(t, g.planned, 4)
	assert.Empty(t, g.notes)
	assert.Equal(t, map[string]string{proto.LoaderLibbpf15: filepath.Join(os.TempDir(), "ksystest-libbpf-1.5.riscv64")}, g.libbpf)

	noLLD := &guestbuild.LibbpfUnavailableError{Version: "1.5", Suite: "trixie", DebianArch: "riscv64", Host: "no ld.lld of LLVM 18 or newer"}
	g = &guest{arch: riscv64, planned: planned(), notes: []string{"an earlier note"}}
	require.NoError(t, g.planLibbpf(ctx, &Options{Libbpf: fakeLibbpf{"1.5": noLLD}}))
	assert.Equal(t, []string{matrix.CollectionKey("open", proto.LoaderCiliumEBPF), matrix.CollectionKey("write", proto.LoaderCiliumEBPF)}, names(g.planned))
	assert.Equal(t, []string{"an earlier note",
		"libbpf-1.5: this host cannot link trixie's libbpf for riscv64: no ld.lld of LLVM 18 or newer, so no case runs under it here"}, g.notes)
	assert.Empty(t, g.libbpf)
	files, err := g.libbpfFiles()
	require.NoError(t, err)
	assert.Empty(t, files)

	g = &guest{arch: riscv64, planned: planned()}
	err = g.planLibbpf(ctx, &Options{Libbpf: fakeLibbpf{"1.5": errors.New("riscv64-linux-gnu-gcc: exit status 1")}})
	assert.EqualError(t, err, "the libbpf-1.5 helper for riscv64: riscv64-linux-gnu-gcc: exit status 1")

	g = &guest{arch: riscv64, planned: planned()}
	assert.EqualError(t, g.planLibbpf(ctx, &Options{}), "libbpf-1.5: this run has no libbpf helpers")
}
