package pid1

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Linux is System on the real kernel.
type Linux struct{}

func (Linux) MkdirAll(path string) error { return os.MkdirAll(path, 0o755) }

func (Linux) Mount(source, target, fstype string) error {
	err := unix.Mount(source, target, fstype, 0, "")
	if errors.Is(err, unix.EBUSY) {
		return errBusy
	}
	return err
}

// PowerOff ends the guest; QEMU exits with it. It does not return on
// success.
func PowerOff() error {
	unix.Sync()
	return unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// QuietKernel keeps routine kernel messages off the console while cases run,
// so they cannot split event lines. Panics, oopses and BUGs are printed at
// levels 0 and 1 and still reach the console.
func QuietKernel() error {
	return os.WriteFile("/proc/sys/kernel/printk", []byte("2 4 1 7\n"), 0)
}
