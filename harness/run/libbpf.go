package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
)

// planLibbpf builds the helper of each libbpf loader the planned cases
// name, for the guest's arch. Where there is none to be had (a
// *guestbuild.LibbpfUnavailableError: this host cannot link trixie's
// riscv64 C library without an lld 18 or newer, which Ubuntu 22.04 does
// not package), the loader's cases are not run and a note says why, as
// where Debian ships no libbpf for the arch.
func (g *guest) planLibbpf(ctx context.Context, o *Options) error {
	for _, l := range loadersOf(g.planned) {
		if !proto.IsLibbpf(l) {
			continue
		}
		if o.Libbpf == nil {
			return fmt.Errorf("%s: this run has no libbpf helpers", l)
		}
		path, err := o.Libbpf.Path(ctx, proto.LibbpfVersion(l), g.arch)
		var unavailable *guestbuild.LibbpfUnavailableError
		if errors.As(err, &unavailable) {
			g.planned = slices.DeleteFunc(g.planned, func(p matrix.Planned) bool { return p.Loader == l })
			g.notes = append(g.notes, fmt.Sprintf("%s: %v, so no case runs under it here", l, err))
			continue
		}
		if err != nil {
			return fmt.Errorf("the %s helper for %s: %w", l, g.arch.Name, err)
		}
		if g.libbpf == nil {
			g.libbpf = map[string]string{}
		}
		g.libbpf[l] = path
	}
	return nil
}

// libbpfFiles are the helpers planLibbpf built.
func (g *guest) libbpfFiles() ([]initramfs.File, error) {
	var files []initramfs.File
	for _, l := range loadersOf(g.planned) {
		path, ok := g.libbpf[l]
		if !ok {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		files = append(files, initramfs.File{Path: proto.LibbpfPath(l), Mode: 0o755, Data: data})
	}
	return files, nil
}
