package run

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/vm"
)

// FloorError means a floor guest did not power off as it should: the
// kernel crashed, or the guest hung.
type FloorError struct {
	Target string
	Reason string
	Tail   []string
}

func (e *FloorError) Error() string { return fmt.Sprintf("boot floor of %s: %s", e.Target, e.Reason) }

// Floor boots the target's kernel with the QEMU command line every guest
// gets and a trivial /init that only powers off (guestbuild.PowerOff), and
// returns the time from QEMU's start to its exit: the least any guest of
// the target costs, to measure other guests against. It needs o's
// Kernels, Agents (for the init), Backend and accelerator choice.
func Floor(ctx context.Context, o Options, t matrix.Target) (time.Duration, error) {
	a, err := arch.Lookup(t.Arch)
	if err != nil {
		return 0, err
	}
	g, err := prepareKernel(ctx, &o, t, a)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.Name, err)
	}
	initPath, err := o.Agents.Path(ctx, guestbuild.PowerOff, a.Go)
	if err != nil {
		return 0, err
	}
	init, err := os.ReadFile(initPath)
	if err != nil {
		return 0, err
	}
	layouts, err := readLayouts(o.Builtin)
	if err != nil {
		return 0, err
	}
	files, err := layouts.Files("floor", g.kernel.Release, func(e initramfs.LayoutEntry, mode uint32) ([]initramfs.File, error) {
		if e.Source != "poweroff" {
			return nil, fmt.Errorf("no source %q for a floor guest", e.Source)
		}
		return []initramfs.File{{Path: e.Path, Mode: mode, Data: init}}, nil
	})
	if err != nil {
		return 0, err
	}
	b, err := g.boot(ctx, &o, files, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.Name, err)
	}
	defer b.Close()
	dl := deadlines(t, a, b.Accel, o.TimeScale)
	took, reason, tail := vm.WatchPowerOff(ctx, b, b.Started, dl.Boot+dl.Exit)
	if reason != "" {
		return 0, &FloorError{Target: t.Name, Reason: reason, Tail: tail}
	}
	return took, nil
}
