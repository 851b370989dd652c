package pid1

import (
	"errors"
	"fmt"
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

// Loopback brings lo up or down: the kernel creates it down, and programs
// talk TCP to servers of their own on 127.0.0.1 (the kernel gives lo that
// address once it is up).
func Loopback(up bool) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo's flags: %w", err)
	}
	flags := ifr.Uint16() &^ unix.IFF_UP
	if up {
		flags |= unix.IFF_UP
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo's flags: %w", err)
	}
	return nil
}

// Hostname is every guest's name: a booted system has one, and programs
// read it (uname -n, os.Hostname).
const Hostname = "ksystest"

// SetHostname gives the guest its name, and the files in /etc a system
// has where programs look for it and for root (EtcFiles).
func SetHostname() error {
	if err := unix.Sethostname([]byte(Hostname)); err != nil {
		return err
	}
	for _, dir := range []string{"/etc", "/root"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	for name, data := range EtcFiles {
		if _, err := os.Lstat(name); err == nil {
			continue // the initramfs has its own
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// EtcFiles are what a guest without them gets in /etc: its name, the
// loopback's names, and root as a user and group (the C library's
// getpwuid, as os/user calls it with cgo, reads /etc/passwd).
var EtcFiles = map[string]string{
	"/etc/hostname": Hostname + "\n",
	"/etc/hosts":    "127.0.0.1\tlocalhost " + Hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	"/etc/passwd":   "root:x:0:0:root:/root:/bin/sh\n",
	"/etc/group":    "root:x:0:\n",
}
