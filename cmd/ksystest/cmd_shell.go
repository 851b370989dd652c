package main

import (
	"context"
	"fmt"
	"os"

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
	var gf guestFlags
	gf.register(fs)
	if help, err := parseArgs(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("shell takes one TARGET (ksystest list shows them)")
	}
	m, cat, targets, err := loadConfig(gf.matrixFile, fs.Arg(0), "")
	if err != nil {
		return err
	}
	progress := newUI(s, false)
	b, err := gf.setup(m, cat, targets, progress, false)
	if err != nil {
		return err
	}
	err = run.Shell(ctx, run.ShellOptions{
		Options: b.Options, Target: targets[0], Stdin: os.Stdin, Stdout: s.out,
		// The guest owns the terminal from here on.
		OnStart: progress.close,
	})
	if err != nil {
		return &exitError{code: exitInfra, err: fmt.Errorf("shell %s: %w", targets[0].Name, err)}
	}
	return nil
}
