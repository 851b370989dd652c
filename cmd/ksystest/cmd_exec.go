package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/run"
	"github.com/ksystest/ksystest/harness/vm"
)

// Exit statuses of ksystest exec besides the program's own (0-255, and
// 128+N when signal N killed it), chosen as timeout(1), env(1) and
// shells use them.
const (
	execCrash       = 123 // the guest's kernel crashed, or the guest ended before the program did
	execTimeout     = 124 // the program outran --timeout, or the guest never started it or went silent
	execFailed      = 125 // ksystest exec itself failed: usage, config, QEMU, downloads, a broken console channel
	execCannotRun   = 126 // the program cannot run in the guest: not static, another arch, exec refused
	execNotFound    = 127 // no such program
	execInterrupted = 130 // Ctrl-C (128+SIGINT)
)

// execPassEnv are the host's variables a program gets when they are set:
// the Go runtime's knobs, which a user sets for the program, not for
// ksystest.
var execPassEnv = []string{"GODEBUG", "GOTRACEBACK", "GOGC", "GOMEMLIMIT", "GOMAXPROCS"}

func cmdExec(ctx context.Context, args []string, s streams) error {
	begin := time.Now()
	fs := newFlagSet("exec [flags] [--] PROGRAM [ARG...]", `
Boot a target's guest and run PROGRAM (a static binary) in it as root,
with proc, sys, tracefs, debugfs and bpffs mounted, in a copy of the
current directory at the same path. Its stdout and stderr are this
command's, and its exit status is this command's. For go test:

  GOARCH=arm64 go test -exec 'ksystest exec --target 6.1' ./pkg

Exit status: the program's (128+N when signal N killed it); 123 the
guest's kernel crashed or the guest ended first (the console's tail is
printed); 124 the program outran --timeout, or the guest never started
it or went silent; 125 ksystest exec failed; 126 the program cannot run
in the guest; 127 no such program; 130 interrupted.`, s)
	var (
		target     = fs.String("target", "", "a target of the matrix (arm64-6.1), or a kernel only (6.1: that target of the program's arch); default: the matrix's first target of the program's arch")
		matrixFile = fs.String("matrix", "", matrixUsage)
		timeout    = fs.Duration("timeout", 0, "how long the program may run (default 10m; -test.timeout=D among its arguments makes it D+1m)")
		treeLimit  = fs.Int("tree-limit", run.DefaultTreeLimit>>20, "MiB of the current directory to copy into the guest at most (.git left out)")
		agentDir   = fs.String("agent-dir", "", "directory with prebuilt guest programs (default: built from the source this ksystest carries, and cached)")
		accel      = fs.String("accel", "auto", "auto (KVM when the guest is the host's arch and KVM works), kvm or tcg")
		appendArgs = fs.String("kernel-append", "", "extra kernel command line")
		verbose    = fs.Bool("v", false, "verbose: phases and timings (exec to the program's first instruction), QEMU's command line, the kernel's console")
		env        envFlag
		af         archiveFlags
	)
	fs.Var(&env, "env", "NAME=VALUE for the program's environment, or NAME to pass the host's value (repeatable)")
	af.register(fs)
	if help, err := parseArgs(fs, args); help || err != nil {
		if err != nil {
			return &exitError{code: execFailed}
		}
		return nil
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &exitError{code: execFailed, err: errors.New("exec needs a PROGRAM")}
	}
	if *accel != "auto" && *accel != "kvm" && *accel != "tcg" {
		return &exitError{code: execFailed, err: fmt.Errorf("--accel %q: want auto, kvm or tcg", *accel)}
	}
	if *treeLimit < 1 {
		return &exitError{code: execFailed, err: fmt.Errorf("--tree-limit %d: want at least 1 (MiB)", *treeLimit)}
	}
	progArgs := fs.Args()
	progPath := progArgs[0]
	if !strings.Contains(progPath, "/") {
		p, err := exec.LookPath(progPath)
		if err != nil {
			return &exitError{code: execNotFound, err: fmt.Errorf("%s: not found in $PATH", progPath)}
		}
		progPath = p
	}
	prog, err := run.ReadProgram(progPath)
	if errors.Is(err, os.ErrNotExist) {
		return &exitError{code: execNotFound, err: err}
	}
	if err != nil {
		return &exitError{code: execCannotRun, err: err}
	}

	m, err := loadMatrix(*matrixFile)
	if err != nil {
		return &exitError{code: execFailed, err: err}
	}
	t, err := pickTarget(m, *target, prog)
	if err != nil {
		var pe *run.ProgramError
		if errors.As(err, &pe) {
			return &exitError{code: execCannotRun, err: err}
		}
		return &exitError{code: execFailed, err: err}
	}
	lock, err := loadLock(m)
	if err != nil {
		return &exitError{code: execFailed, err: err}
	}
	var progress ui = quietUI{}
	if *verbose {
		progress = &linesUI{w: s.err, start: begin}
	}
	logf := func(format string, args ...any) { progress.logf("exec: "+format, args...) }
	fetcher, agents, err := guestSources(&af, *agentDir, progress)
	if err != nil {
		return &exitError{code: execFailed, err: err}
	}
	kernels, err := debianKernels(fetcher, lock)
	if err != nil {
		return &exitError{code: execFailed, err: err}
	}
	backend := vm.QEMU{}
	streams := vm.ExecStreams{Stdout: s.out, Stderr: s.err}
	if *verbose {
		backend.OnStart = func(argv []string) { logf("qemu: %s", strings.Join(argv, " ")) }
		streams.Console = prefixWriter{w: s.err, prefix: "console: "}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return &exitError{code: execFailed, err: err}
	}
	if *timeout == 0 {
		*timeout = goTestTimeout(progArgs[1:])
	}
	res, err := run.Exec(ctx, run.ExecOptions{
		Options: run.Options{Kernels: kernels, Agents: agents, Backend: backend, Builtin: ksystest.Data, Logf: logf,
			Accel: strings.TrimPrefix(*accel, "auto"), ExtraCmdline: strings.Fields(*appendArgs)},
		Target: t, Program: progPath, Args: progArgs, Env: execEnv(env),
		Dir: cwd, TreeLimit: int64(*treeLimit) << 20, Timeout: *timeout,
		Streams: streams, Start: begin,
	})
	if err != nil {
		var pe *run.ProgramError
		if errors.As(err, &pe) {
			return &exitError{code: execCannotRun, err: err}
		}
		if ctx.Err() != nil {
			return &exitError{code: execInterrupted, err: err}
		}
		return &exitError{code: execFailed, err: err}
	}
	if *verbose {
		logExecTimings(logf, res)
	}
	return execOutcome(res, s.err)
}

// pickTarget finds the target to run prog on: the one --target names, the
// one named ARCH-VALUE for the program's arch when --target gives only a
// kernel, or the matrix's first target of the program's arch.
func pickTarget(m *matrix.Matrix, name string, prog *run.Program) (matrix.Target, error) {
	var ofArch []string
	for _, t := range m.Targets.List {
		if t.Arch == prog.Arch.Name {
			ofArch = append(ofArch, t.Name)
		}
	}
	for _, t := range m.Targets.List {
		switch {
		case name == "" && t.Arch == prog.Arch.Name, name != "" && t.Name == prog.Arch.Name+"-"+name:
			return t, nil
		case name != "" && t.Name == name:
			a, err := arch.Lookup(t.Arch)
			if err != nil {
				return t, err
			}
			if !prog.RunsOn(a) {
				return t, &run.ProgramError{Path: prog.Path, Err: fmt.Errorf("built for %s, which %s guests do not run", prog.Arch.Name, t.Name)}
			}
			return t, nil
		}
	}
	if name == "" {
		return matrix.Target{}, fmt.Errorf("%s has no %s target for %s (targets: %s)", m.File, prog.Arch.Name, prog.Path, targetNames(m))
	}
	if len(ofArch) == 0 {
		return matrix.Target{}, fmt.Errorf("--target %s: %s has no such target, nor any %s target for %s (targets: %s)", name, m.File, prog.Arch.Name, prog.Path, targetNames(m))
	}
	return matrix.Target{}, fmt.Errorf("--target %s: %s has no target %s nor %s-%s (%s targets: %s)", name, m.File, name, prog.Arch.Name, name, prog.Arch.Name, strings.Join(ofArch, ", "))
}

// execEnv is the program's environment: ksystest's base, the Go runtime's
// knobs the host has set, then --env.
func execEnv(extra envFlag) []string {
	env := append([]string(nil), run.ExecBaseEnv...)
	for _, name := range execPassEnv {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return append(env, extra...)
}

// envFlag collects --env NAME=VALUE, or NAME for the host's value.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(v string) error {
	name, _, hasValue := strings.Cut(v, "=")
	if name == "" {
		return fmt.Errorf("%q: want NAME=VALUE or NAME", v)
	}
	if !hasValue {
		v = name + "=" + os.Getenv(name)
	}
	*e = append(*e, v)
	return nil
}

var _ flag.Value = (*envFlag)(nil)

// goTestTimeout is the deadline a go test binary's own -test.timeout asks
// for, with a minute for the guest to boot and report the test's end;
// run.DefaultExecTimeout without one. -test.timeout=0 means none.
func goTestTimeout(args []string) time.Duration {
	for i, a := range args {
		name, dash := strings.CutPrefix(a, "-")
		v, ok := strings.CutPrefix(strings.TrimPrefix(name, "-"), "test.timeout") // -test.timeout or --test.timeout
		if !dash || !ok {
			continue
		}
		switch {
		case strings.HasPrefix(v, "="):
			v = v[1:]
		case v == "" && i+1 < len(args):
			v = args[i+1]
		default:
			continue
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			continue
		case d == 0:
			return math.MaxInt64
		}
		return d + time.Minute
	}
	return run.DefaultExecTimeout
}

// execOutcome maps how the guest ended to this command's exit status,
// saying on stderr why when it is not the program's own.
func execOutcome(res *run.ExecResult, stderr io.Writer) error {
	code := execFailed
	switch res.Outcome {
	case vm.ExecExited:
		if res.Exit.Signal > 0 {
			return &exitError{code: 128 + res.Exit.Signal, err: fmt.Errorf("%s: the program was killed by signal %d", res.Target, res.Exit.Signal)}
		}
		if res.Exit.Code == 0 {
			return nil
		}
		return &exitError{code: res.Exit.Code}
	case vm.ExecNotRun:
		code = execCannotRun
	case vm.ExecCrash:
		code = execCrash
	case vm.ExecTimeout:
		code = execTimeout
	case vm.ExecInterrupted:
		code = execInterrupted
	}
	if len(res.Tail) > 0 && (code == execCrash || code == execTimeout || code == execFailed) {
		fmt.Fprintf(stderr, "ksystest: exec %s: the guest's console, last %d lines:\n", res.Target, len(res.Tail))
		for _, l := range res.Tail {
			fmt.Fprintln(stderr, "  "+l)
		}
	}
	return &exitError{code: code, err: fmt.Errorf("exec %s: %s: %s", res.Target, res.Outcome, res.Reason)}
}

func logExecTimings(logf func(string, ...any), res *run.ExecResult) {
	tm := res.Timings
	logf("%s: %s, %s, initramfs %s (the directory's copy: %d files, %s)", res.Target, res.Kernel, res.Accel,
		mibs(res.Initramfs), res.TreeFiles, mibs(res.TreeBytes))
	if res.Started > 0 {
		logf("%s: exec to the program's first instruction %.2fs: prepare %.2fs, QEMU start to execve %.2fs (guest kernel uptime %.2fs)",
			res.Target, tm.FirstInstruction.Seconds(), tm.Prepare.Seconds(), tm.Boot.Seconds(), tm.GuestUptime.Seconds())
	}
	if res.Exited > 0 {
		logf("%s: the program ran %.2fs (stdout %d bytes, stderr %d), power off %.2fs; %.2fs in all", res.Target,
			tm.Run.Seconds(), res.OutBytes, res.ErrBytes, tm.PowerOff.Seconds(), tm.Total.Seconds())
	}
}

func mibs(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// prefixWriter writes each line it is given with a prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			io.WriteString(p.w, p.prefix+line)
		}
	}
	return len(b), nil
}
