// Command ksystest-agent is PID 1 of a ksystest guest: it mounts, runs the
// cases from the initramfs (in a saved guest: from the run's files, once a
// restored copy has them), reports over the console, and powers off. It is
// built statically, once per guest GOARCH.
package main

import (
	"fmt"
	"os"

	"github.com/ksystest/ksystest/harness/guest/agent"
	"github.com/ksystest/ksystest/harness/guest/pid1"
	"github.com/ksystest/ksystest/harness/guest/standby"
	"github.com/ksystest/ksystest/harness/proto"
)

func main() {
	em := agent.NewEmitter(os.Stdout)
	err := pid1.MountAll(pid1.Linux{}, pid1.Mounts)
	if err == nil {
		if qerr := pid1.QuietKernel(); qerr != nil {
			fmt.Fprintln(os.Stderr, "ksystest-agent: quiet kernel:", qerr)
		}
		err = pid1.SetHostname()
		if err == nil && standby.Standby() {
			// A saved guest: restored copies go on from here, past the
			// work that is the same in every run, with the run's
			// catalogue and objects.
			agent.Prepare()
			err = standby.Wait(os.Stdin, os.Stdout)
		}
	}
	if err == nil {
		err = agent.Run(em, proto.CataloguePath)
	}
	if err != nil {
		em.Emit(proto.Event{Type: proto.EventError, Error: err.Error()})
	}
	if os.Getpid() != 1 {
		// Run by hand (ksystest shell): the status says how it went.
		if err != nil {
			os.Exit(1)
		}
		return
	}
	if err := pid1.PowerOff(); err != nil {
		fmt.Fprintln(os.Stderr, "ksystest-agent: power off:", err)
	}
	select {} // PID 1 must not exit: the kernel would panic
}
