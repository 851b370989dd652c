package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

type streams struct{ out, err io.Writer }

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1 // an expectation failed, a kernel crashed or hung
	exitUsage    = 2 // bad flags or config
	exitInfra    = 3 // QEMU missing, download failed, guest never booted
)

// exitError carries an exit code and, optionally, a message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "ksystest:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "ksystest:", err)
	return exitInfra
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, s streams) error
}

func commands() []command {
	return []command{
		{"init", "write a starter ksystest.yaml for the probes in a directory", cmdInit},
		{"run", "boot the matrix's guests and check every case", cmdRun},
		{"list", "print the targets a run would boot (--only, --shard)", cmdList},
		{"lock", "pin the exact kernel each target boots in the matrix's lock file (--update, --check)", cmdLock},
		{"merge", "combine shard outputs into one results.json and report", cmdMerge},
		{"report", "render a finished run's report again (text, --cases, --markdown)", cmdReport},
		{"shell", "boot a target's guest with an interactive shell, agent and probes inside", cmdShell},
		{"exec", "run a static program (or a go test binary: go test -exec) in a target's guest", cmdExec},
		{"bench", "measure each target's cell against its kernel's boot floor, phase by phase", cmdBench},
		{"doctor", "check this host for what ksystest needs, and say what to install", cmdDoctor},
		{"version", "print the version", func(_ context.Context, _ []string, s streams) error {
			fmt.Fprintln(s.out, "ksystest", version)
			return nil
		}},
	}
}

var version = "dev"

func runMain(ctx context.Context, args []string, s streams) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		topUsage(s.out)
		if len(args) == 0 {
			return &exitError{code: exitUsage}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], s)
		}
	}
	topUsage(s.err)
	return usageErr("unknown command %q", args[0])
}

func topUsage(w io.Writer) {
	fmt.Fprintf(w, `ksystest proves that eBPF syscall probes (BPF_KSYSCALL, SEC("ksyscall/NAME"))
capture the arguments really passed, on real Debian kernels booted under QEMU
for x86_64, arm64, s390x and 32-bit arm.

Usage: ksystest COMMAND [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Run 'ksystest COMMAND -h' for a command's flags.
Exit codes: 0 all as expected, 1 an expectation failed (or a kernel crashed
or hung), 2 usage or config error, 3 infrastructure error.
`)
}

// newFlagSet makes a flag set whose -h prints a usage with a summary line.
func newFlagSet(name, synopsis string, s streams) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(s.err)
	fs.Usage = func() {
		fmt.Fprintf(s.err, "Usage: ksystest %s\n\n%s\n\nFlags:\n", name, strings.TrimSpace(synopsis))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags and refuses arguments; -h is success, anything
// else wrong is usage.
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	if help, err = parseArgs(fs, args); help || err != nil {
		return help, err
	}
	if fs.NArg() > 0 {
		return false, usageErr("unexpected argument %q", fs.Arg(0))
	}
	return false, nil
}

// parseArgs parses flags and leaves arguments to the command.
func parseArgs(fs *flag.FlagSet, args []string) (help bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	if err != nil {
		return false, &exitError{code: exitUsage}
	}
	return false, nil
}
