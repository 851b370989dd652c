package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/guestbuild"
)

// Programs gives the programs a guest runs (guestbuild.Agent,
// guestbuild.Compat, guestbuild.Exec, guestbuild.PowerOff) built for a Go port. *guestbuild.GoBuilder builds them
// from the source ksystest carries; Prebuilt takes them from a directory.
type Programs interface {
	Path(ctx context.Context, cmd string, t arch.GoTarget) (string, error)
}

// Prebuilt finds guest programs in Dir, named CMD.KEY
// (ksystest-agent.arm64, ksystest-agent.arm.GOARM7; see arch.GoTarget.Key).
type Prebuilt struct{ Dir string }

// ErrNoAgent means a prebuilt guest program is missing.
var ErrNoAgent = errors.New("guest program not found")

// Path returns Dir/CMD.KEY when it exists.
func (p Prebuilt) Path(_ context.Context, cmd string, t arch.GoTarget) (string, error) {
	path := filepath.Join(p.Dir, BinaryName(cmd, t))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w: %s (build it with CGO_ENABLED=0 %v go build ./cmd/%s)", ErrNoAgent, path, t.Env(), cmd)
	}
	return path, nil
}

// BinaryName is the file name of cmd built for t.
func BinaryName(cmd string, t arch.GoTarget) string { return cmd + "." + t.Key() }

var _ Programs = (*guestbuild.GoBuilder)(nil)

// LibbpfPrograms gives the static helper that loads collections with
// libbpf version (harness/guestbuild builds it from Debian's packages).
type LibbpfPrograms interface {
	Path(ctx context.Context, version string, a arch.Arch) (string, error)
}
