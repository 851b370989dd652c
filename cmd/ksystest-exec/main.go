// Command ksystest-exec is PID 1 of a ksystest exec guest: it mounts,
// brings the loopback up, runs the program the initramfs's exec spec names, relays its output and
// exit status over the console as frames, and powers off. It is built
// statically, once per guest GOARCH, and does not link cilium/ebpf.
package main

import (
	"fmt"
	"os"

	"github.com/ksystest/ksystest/harness/guest/execinit"
	"github.com/ksystest/ksystest/harness/guest/pid1"
	"github.com/ksystest/ksystest/harness/guest/standby"
	"github.com/ksystest/ksystest/harness/proto"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == proto.CacheProgArg && os.Getpid() != 1 {
		// The go command's cache program, in the guest (proto.CacheProgEnv).
		if err := execinit.CacheProg(os.Stdin, os.Stdout, execinit.CacheProgLocal, os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "ksystest-exec:", err)
			os.Exit(1)
		}
		return
	}
	w := execinit.NewWriter(os.Stdout)
	err := pid1.MountAll(pid1.Linux{}, execinit.Mounts())
	if err == nil {
		// Kernel messages could cut into frames; panics still print.
		if qerr := pid1.QuietKernel(); qerr != nil {
			fmt.Fprintln(os.Stderr, "ksystest-exec: quiet kernel:", qerr)
		}
		// As on a booted system: tests listen and dial on 127.0.0.1,
		// and the machine has a name.
		err = pid1.Loopback(true)
		if err == nil {
			err = pid1.SetHostname()
		}
		if err == nil {
			err = execinit.InstallBusybox()
		}
	}
	if err == nil && standby.Standby() {
		// A saved guest: restored copies go on from here, with the
		// run's program and files.
		err = standby.Wait(os.Stdin, os.Stdout)
	}
	if err == nil {
		err = execinit.Run(w, proto.ExecSpecPath)
	}
	if err != nil {
		w.Fail(err)
	}
	if os.Getpid() != 1 {
		return
	}
	if err := pid1.PowerOff(); err != nil {
		fmt.Fprintln(os.Stderr, "ksystest-exec: power off:", err)
	}
	select {} // PID 1 must not exit: the kernel would panic
}
