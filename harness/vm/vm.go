// Package vm runs one guest to its end: a narrow Instance interface over a
// running VM, the one reader of its console (Lines) and the one loop over
// it (Follow), with what each use makes of the lines: agent events,
// panics and progress (Monitor), ksystest exec's frames (WatchExec), the
// boot floor (WatchPowerOff); and a fake backend for testing the
// orchestrator without QEMU. It imports qemu (for the real backend) and
// proto.
package vm

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/qemu"
)

// Instance is a running guest.
type Instance interface {
	// Console is the guest's console output; it ends when the guest does.
	Console() io.Reader
	// Done is closed when the guest (its VM process) has exited.
	Done() <-chan struct{}
	// Stop ends the guest in order, killing it after grace.
	Stop(grace time.Duration)
	// Status is the VM's run state as its monitor reports it ("running",
	// "paused", ...): evidence when a guest goes quiet.
	Status() (string, error)
	// ExitError says, once Done is closed, why the VM ended if neither
	// the guest nor Stop ended it: killed by a signal from elsewhere (the
	// OOM killer, a kill from outside), or failing on its own. nil
	// otherwise. Such an end says nothing about the kernel.
	ExitError() error
}

// Spec is what a backend needs to boot a guest.
type Spec struct {
	Arch     arch.Arch
	Kernel   string
	Initrd   string
	MemoryMB int
	CPUs     int
	Accel    string
	// Dir is a private scratch directory for sockets.
	Dir          string
	ExtraCmdline []string
	Paused       bool
	// Stdio, when set, connects the guest's console to these streams (an
	// interactive shell) instead of Console.
	Stdio *qemu.IO
	// Shares are host directories the guest may mount (virtio-9p).
	Shares []qemu.Share
	// State, when set, is a saved machine (Machine.Save) to restore
	// instead of booting Kernel and Initrd; the guest stays stopped until
	// Machine.Resume.
	State *os.File
}

// Machine is an Instance whose whole machine can be saved and restored
// (QEMU's is): a saved guest is restored instead of booted.
type Machine interface {
	Instance
	// Input writes to the guest's console.
	Input() io.Writer
	// Save stops the guest, writes its machine to w and ends it.
	Save(ctx context.Context, w io.Writer) error
	// Resume lets a restored guest (Spec.State) run once its machine is
	// loaded, if verify (nil: no check) accepts the state.
	Resume(ctx context.Context, verify func() error) error
}

// Backend boots guests.
type Backend interface {
	Start(ctx context.Context, s Spec) (Instance, error)
}

// QEMU is the real backend.
type QEMU struct {
	// OnStart, when set, sees each QEMU's argv (for -v).
	OnStart func(argv []string)
}

// Start boots s under QEMU.
func (q QEMU) Start(ctx context.Context, s Spec) (Instance, error) {
	p, err := qemu.Start(ctx, qemu.Config{
		Arch: s.Arch, Kernel: s.Kernel, Initrd: s.Initrd, MemoryMB: s.MemoryMB, CPUs: s.CPUs,
		Accel: s.Accel, QMPSocket: s.Dir + "/qmp.sock", ExtraCmdline: s.ExtraCmdline, Paused: s.Paused,
		Shares: s.Shares, Restore: s.State != nil,
	}, s.Stdio, s.State)
	if err != nil {
		return nil, err
	}
	if q.OnStart != nil {
		q.OnStart(p.Argv)
	}
	return p, nil
}
