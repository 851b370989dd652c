// Command ksystest-poweroff is the trivial init of the boot floor
// (run.Floor): as PID 1 it only powers the guest off, so a guest that
// runs it costs what booting the kernel costs, and nothing else. It uses
// the syscall package alone, to stay as small as a Go program can be.
package main

import "syscall"

func main() {
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	// PID 1 must not return: the kernel would panic. Power off does not
	// come back; if it fails, the host's deadline ends the guest.
	select {}
}
