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
	"strconv"
	"strings"
	"time"

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
Boot (or restore) a target's guest and run PROGRAM in it as root, in the
current directory: the guest shows the directory's Go module root, the
program, its libraries and the Go toolchain read-only at their host
paths, and has busybox, /bin/bash, cgroup2, tracefs, debugfs, bpffs, two
CPUs and the kernel's modules on request. Its stdout and stderr are this
command's, and its exit status is this command's. For go test:

  GOARCH=arm64 go test -exec 'ksystest exec --target 6.1' ./pkg

Exit status: the program's (128+N when signal N killed it); 123 the
guest's kernel crashed or the guest ended first (the console's tail is
printed); 124 the program outran --timeout, or the guest never started
it or went silent; 125 ksystest exec failed; 126 the program cannot run
in the guest; 127 no such program; 130 interrupted.`, s)
	var f execFlags
	f.register(fs)
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
	if f.treeLimit < 1 {
		return &exitError{code: execFailed, err: fmt.Errorf("--tree-limit %d: want at least 1 (MiB)", f.treeLimit)}
	}
	prog, err := findProgram(fs.Arg(0))
	if err != nil {
		return err
	}
	var progress ui = quietUI{}
	if f.verbose {
		progress = &linesUI{w: s.err, start: begin}
	}
	o, err := f.options(prog, progress)
	if err != nil {
		return err
	}
	o.Args, o.Start = fs.Args(), begin
	o.Streams = vm.ExecStreams{Stdout: s.out, Stderr: s.err}
	if f.verbose {
		o.Streams.Console = prefixWriter{w: s.err, prefix: "console: "}
	}
	if o.Timeout == 0 {
		o.Timeout = goTestTimeout(o.Args[1:])
	}
	res, err := run.Exec(ctx, *o)
	var pe *run.ProgramError
	switch {
	case errors.As(err, &pe):
		return &exitError{code: execCannotRun, err: err}
	case err != nil && ctx.Err() != nil:
		return &exitError{code: execInterrupted, err: err}
	case err != nil:
		return &exitError{code: execFailed, err: err}
	}
	if f.verbose {
		logExecTimings(o.Logf, res)
	}
	return execOutcome(res, s.err)
}

// execFlags are exec's flags: those of every booting command, and its
// own.
type execFlags struct {
	guestFlags
	target    string
	timeout   time.Duration
	treeLimit int
	verbose   bool
	env       envFlag
	shares    repeated
	cpus      int
	memory    string
	modules   string
}

func (f *execFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", "", "a target of the matrix (arm64-6.1), or a kernel only (6.1: that target of the program's arch); default: the matrix's first target of the program's arch")
	fs.DurationVar(&f.timeout, "timeout", 0, "how long the program may run (default 10m; -test.timeout=D among its arguments makes it D+1m)")
	fs.IntVar(&f.treeLimit, "tree-limit", run.DefaultTreeLimit>>20, "MiB of the current directory to copy into a guest that cannot show it from the host (.git left out)")
	fs.Var(&f.shares, "share", "a host directory the guest shows at the same path, read-only, besides the current directory's module root (repeatable)")
	fs.IntVar(&f.cpus, "cpus", 0, fmt.Sprintf("the guest's CPUs (default: the target's cpus:, else %d)", matrix.DefaultExecCPUs))
	fs.StringVar(&f.memory, "memory", "", fmt.Sprintf("the guest's memory: 512M, 2G, or MiB (default: the target's memoryMB:, else %dM: enough for the go command in the guest)", matrix.DefaultExecMemoryMB))
	fs.StringVar(&f.modules, "modules", "", "kernel modules to load before the program, comma-separated, from the kernel's own package with what they depend on (besides the target's modules:)")
	fs.BoolVar(&f.verbose, "v", false, "verbose: phases and timings (exec to the program's first instruction), QEMU's command line, the kernel's console")
	fs.Var(&f.env, "env", "NAME=VALUE for the program's environment, or NAME to pass the host's value (repeatable)")
	f.guestFlags.register(fs)
	f.guestFlags.registerFresh(fs)
}

// findProgram finds the program to run, on PATH when its name has no
// slash, and reads what it is built for: no such program is exit 127, one
// that is not a program a guest can run exit 126.
func findProgram(name string) (*run.Program, error) {
	if !strings.Contains(name, "/") {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, &exitError{code: execNotFound, err: fmt.Errorf("%s: not found in $PATH", name)}
		}
		name = p
	}
	prog, err := run.ReadProgram(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &exitError{code: execNotFound, err: err}
	}
	if err != nil {
		return nil, &exitError{code: execCannotRun, err: err}
	}
	return prog, nil
}

// options picks the target for prog and sets up its guest, as every
// booting command does; a problem there is exec's own failure (125), a
// target that cannot run prog exit 126.
func (f *execFlags) options(prog *run.Program, progress ui) (*run.ExecOptions, error) {
	m, err := loadMatrix(f.matrixFile)
	if err != nil {
		return nil, &exitError{code: execFailed, err: err}
	}
	t, err := pickTarget(m, f.target, prog)
	var pe *run.ProgramError
	switch {
	case errors.As(err, &pe):
		return nil, &exitError{code: execCannotRun, err: err}
	case err != nil:
		return nil, &exitError{code: execFailed, err: err}
	}
	execUI := prefixUI{ui: progress, prefix: "exec: "}
	b, err := f.setup(m, nil, []matrix.Target{t}, execUI, f.verbose)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			err = ee.err
		}
		return nil, &exitError{code: execFailed, err: err}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, &exitError{code: execFailed, err: err}
	}
	eo := &run.ExecOptions{Options: b.Options, Target: t, Program: prog.Path, Env: execEnv(f.env),
		Dir: cwd, Shares: f.shares, TreeLimit: int64(f.treeLimit) << 20, Timeout: f.timeout, CPUs: f.cpus}
	if f.cpus < 0 || f.cpus > matrix.MaxCPUs {
		return nil, &exitError{code: execFailed, err: fmt.Errorf("--cpus %d: want 1 to %d", f.cpus, matrix.MaxCPUs)}
	}
	if f.memory != "" {
		if eo.MemoryMB, err = parseMemory(f.memory); err != nil {
			return nil, &exitError{code: execFailed, err: fmt.Errorf("--memory: %w", err)}
		}
	}
	for _, m := range strings.Split(f.modules, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if !matrix.ModuleName(m) {
			return nil, &exitError{code: execFailed, err: fmt.Errorf("--modules: %q is not a kernel module's name", m)}
		}
		eo.Modules = append(eo.Modules, m)
	}
	return eo, nil
}

// parseMemory reads a memory size: a number of MiB, or one with M or G
// (MiB, GiB), between 128 MiB and 64 GiB.
func parseMemory(s string) (int, error) {
	mult, num := 1, strings.TrimSuffix(strings.ToUpper(s), "B")
	switch {
	case strings.HasSuffix(num, "G"):
		mult, num = 1024, strings.TrimSuffix(num, "G")
	case strings.HasSuffix(num, "M"):
		num = strings.TrimSuffix(num, "M")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a size such as 512M or 2G", s)
	}
	mb := n * mult
	if mb < 128 || mb > 64<<10 {
		return 0, fmt.Errorf("%q: want 128M to 64G", s)
	}
	return mb, nil
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
	if len(res.Binds) > 0 || res.TreeFiles == 0 {
		var shown []string
		for _, b := range res.Binds {
			if b.Host == b.Guest {
				shown = append(shown, b.Guest)
			} else {
				shown = append(shown, b.Guest+" (the host's "+b.Host+")")
			}
		}
		logf("%s: %s, %s guest, %s, run files %s; shown from the host, read-only: %s", res.Target, res.Kernel, res.Start, res.Accel,
			mibs(res.Initramfs), strings.Join(shown, ", "))
	} else {
		logf("%s: %s, %s guest, %s, initramfs %s (the directory's copy: %d files, %s)", res.Target, res.Kernel, res.Start, res.Accel,
			mibs(res.Initramfs), res.TreeFiles, mibs(res.TreeBytes))
	}
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
