package run

import (
	"context"
	"fmt"
	"os"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/matrix"
)

// WorkloadPrograms gives the workload programs ksystest carries
// (matrix.WorkloadPrograms), built for an arch.
type WorkloadPrograms interface {
	Program(ctx context.Context, name string, a arch.Arch) (string, error)
}

// CarriedWorkloads builds the C client with Debian's cross gcc and the Go
// workloads with the go tool, from the source the binary carries.
type CarriedWorkloads struct {
	C  *guestbuild.CBuilder
	Go *guestbuild.GoBuilder
}

// Program builds (or finds in the cache) workload name for a.
func (c CarriedWorkloads) Program(ctx context.Context, name string, a arch.Arch) (string, error) {
	switch name {
	case "client":
		return c.C.Path(ctx, guestbuild.Client, a)
	case "httpget":
		return c.Go.Package(ctx, guestbuild.HTTPGet, a.Go)
	case "true":
		return c.Go.Package(ctx, guestbuild.True, a.Go)
	}
	return "", fmt.Errorf("ksystest carries no workload %q", name)
}

// workloadFiles are the programs of the guest's workload cases: ksystest's
// built for the arch, or the user's static program for it. A program
// that is not a static ELF for the arch is a config error.
func (g *guest) workloadFiles(ctx context.Context, o *Options) ([]initramfs.File, error) {
	var files []initramfs.File
	seen := map[string]bool{}
	for _, p := range g.planned {
		if p.CaseDef.Workload == nil {
			continue
		}
		if p.WorkloadErr != nil {
			return nil, &ConfigError{p.WorkloadErr}
		}
		dst := matrix.WorkloadPath(p.CaseDef)
		if seen[dst] {
			continue
		}
		seen[dst] = true
		w := p.CaseDef.Workload
		src := w.ObjectPath(g.arch.Name)
		if w.Program != "" {
			if o.Workloads == nil {
				return nil, fmt.Errorf("workload %s: no way to build ksystest's workload programs", p.Name)
			}
			var err error
			if src, err = o.Workloads.Program(ctx, w.Program, g.arch); err != nil {
				return nil, fmt.Errorf("workload %s: %w", p.Name, err)
			}
		}
		if err := guestbuild.CheckProgram(src, g.arch); err != nil {
			return nil, &ConfigError{fmt.Errorf("workload %s: %w", p.Name, err)}
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("workload %s: %w", p.Name, err)}
		}
		files = append(files, initramfs.File{Path: dst, Mode: 0o755, Data: data})
	}
	return files, nil
}
