package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/run"
)

func cmdShell(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("shell [flags] TARGET", `
Boot TARGET's guest with an interactive shell on this terminal: busybox
(from Debian's busybox-static, verified like kernels), the agent at
/ksystest/agent with the probes built in, the cases at
/ksystest/cases.json. Run /ksystest/agent to run the cases by hand.
Ctrl-C goes to the guest; exit (or poweroff -f) ends the session and
QEMU with it.`, s)
	var (
		matrixFile = fs.String("matrix", "", matrixUsage)
		agentDir   = fs.String("agent-dir", "", "directory with prebuilt guest programs (default: built from the source this ksystest carries, and cached)")
		appendArgs = fs.String("kernel-append", "", "extra kernel command line")
		af         archiveFlags
	)
	af.register(fs)
	if help, err := parseArgs(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("shell takes one TARGET (ksystest list shows them)")
	}
	m, cat, targets, err := loadConfig(*matrixFile, fs.Arg(0), "")
	if err != nil {
		return err
	}
	lock, err := loadLock(m)
	if err != nil {
		return err
	}
	progress := newUI(s, false)
	logf := progress.logf
	fetcher, agents, err := guestSources(&af, *agentDir, progress)
	if err != nil {
		return err
	}
	kernels, err := debianKernels(fetcher, lock)
	if err != nil {
		return err
	}
	err = run.Shell(ctx, run.ShellOptions{
		Options: run.Options{Matrix: m, Catalogue: cat, Kernels: kernels, Agents: agents, Builtin: ksystest.Data,
			Logf: logf, ExtraCmdline: strings.Fields(*appendArgs)},
		Target: targets[0], Busybox: fetcher.Busybox, Stdin: os.Stdin, Stdout: s.out,
		// The guest owns the terminal from here on.
		OnStart: func([]string) { progress.close() },
	})
	if err != nil {
		return &exitError{code: exitInfra, err: fmt.Errorf("shell %s: %w", targets[0].Name, err)}
	}
	return nil
}
