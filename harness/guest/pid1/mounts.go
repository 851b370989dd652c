// Package pid1 is what every ksystest guest's PID 1 does with the guest
// OS besides its own job: the table of filesystems it mounts, quieting
// the kernel's console, and powering off. The agent and the init of
// ksystest exec share it, so a guest looks the same whichever of them
// runs. Standard library and x/sys only: the exec init must not link
// cilium/ebpf.
package pid1

import (
	"errors"
	"fmt"
	"os"
)

// Mount is one filesystem the guest needs.
type Mount struct {
	Source, Target, FSType string
	// Optional mounts may fail on kernels that lack the filesystem; PID 1
	// goes on and reports what is missing where it matters.
	Optional bool
}

// Mounts is the guest's filesystem table, in order: tracefs lives under
// sysfs, bpffs under sysfs. cilium/ebpf needs tracefs to resolve
// LINUX_HAS_SYSCALL_WRAPPER and /dev to exec anything.
var Mounts = []Mount{
	{"proc", "/proc", "proc", false},
	{"sysfs", "/sys", "sysfs", false},
	{"devtmpfs", "/dev", "devtmpfs", false},
	{"tracefs", "/sys/kernel/tracing", "tracefs", false},
	{"debugfs", "/sys/kernel/debug", "debugfs", true},
	{"bpf", "/sys/fs/bpf", "bpf", true},
	// As a booted system has them: programs attach to cgroups, share
	// memory and keep runtime files.
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", true},
	{"tmpfs", "/dev/shm", "tmpfs", true},
	{"tmpfs", "/run", "tmpfs", false},
	{"tmpfs", "/tmp", "tmpfs", false},
}

// System is the part of the OS PID 1 drives; the real one is in
// system_linux.go, tests use a fake.
type System interface {
	MkdirAll(path string) error
	Mount(source, target, fstype string) error
}

// MountAll mounts the table. Targets that are already mounted (EBUSY) are
// fine: devtmpfs may be automounted by the kernel.
func MountAll(sys System, mounts []Mount) error {
	var errs []error
	for _, m := range mounts {
		if err := sys.MkdirAll(m.Target); err != nil {
			errs = append(errs, fmt.Errorf("mkdir %s: %w", m.Target, err))
			continue
		}
		err := sys.Mount(m.Source, m.Target, m.FSType)
		if err == nil || errors.Is(err, errBusy) || m.Optional {
			continue
		}
		errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.FSType, m.Target, err))
	}
	return errors.Join(errs...)
}

var errBusy = os.ErrExist
