package run

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/vm"
)

// DefaultExecTimeout bounds a program's run when ExecOptions give none:
// go test's own default.
const DefaultExecTimeout = 10 * time.Minute

// ExecBaseEnv is the environment a program gets in the guest before what
// the caller adds: a PATH, a home and a temporary directory, as root.
var ExecBaseEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"TMPDIR=/tmp",
}

// ExecOptions configure one program run in a guest.
type ExecOptions struct {
	// Options give the kernels, guest programs, backend, accelerator,
	// logger, extra kernel command line and time scale.
	Options
	Target matrix.Target
	// Program is the static program on the host; Args its argv, with
	// Args[0] as the caller gave it.
	Program string
	Args    []string
	// Env is the program's whole environment (see ExecBaseEnv).
	Env []string
	// Dir is where the program runs, at the same path in the guest: shown
	// there, with its module root (the nearest go.mod above it), from the
	// host's share; copied in where the guest has no share. "" runs the
	// program in /.
	Dir string
	// Shares are more host directories the guest shows at their own
	// paths, read-only.
	Shares []string
	// CPUs and MemoryMB, when not 0, override the target's (its cpus:,
	// else matrix.DefaultExecCPUs; its ExecMemoryMB).
	CPUs, MemoryMB int
	// Modules are loaded before the program, besides the target's.
	Modules []string
	// TreeLimit bounds the copy of Dir (0: DefaultTreeLimit).
	TreeLimit int64
	// Timeout bounds the program's run from its start (0:
	// DefaultExecTimeout). Booting is bounded by the target's boot
	// timeout, scaled per arch as for run.
	Timeout time.Duration
	Streams vm.ExecStreams
	// Start is when the user asked, the origin of the reported timings
	// (zero: when Exec is called).
	Start time.Time
}

// ExecResult is how a program run in a guest went.
type ExecResult struct {
	*vm.ExecWatch
	Target string
	Kernel string // the package and version booted
	Accel  string
	// Start says whether the guest was booted or restored
	// (result.Start*); StartNote why it was booted where it would have
	// been restored.
	Start, StartNote string
	// Binds are the host paths the guest showed, read-only.
	Binds []proto.Bind
	// Initramfs is the size of what the guest booted with; TreeFiles and
	// TreeBytes what of it is the copy of Dir.
	Initramfs, TreeBytes int64
	TreeFiles            int
	Timings              ExecTimings
	// checks are those of the cache entries the guest showed that are
	// hashed while it runs (cache.FileChecked): the run counts only if
	// they pass.
	checks []func() error
}

// ExecTimings are the phases of an exec, from ExecOptions.Start.
type ExecTimings struct {
	// Prepare: to QEMU start (kernel from the cache, the guest's init,
	// the initramfs).
	Prepare time.Duration
	// Boot: QEMU start to the init's word that it executes the program.
	Boot time.Duration
	// FirstInstruction is Prepare plus Boot: how long after the user
	// asked the program started, as the host knows it (the start frame
	// leaves the guest just before the program's execve).
	FirstInstruction time.Duration
	// GuestUptime is the guest kernel's own uptime at that point.
	GuestUptime time.Duration
	// Run: the program's start to its exit, as the host saw them.
	Run time.Duration
	// PowerOff: the program's exit to QEMU's.
	PowerOff time.Duration
	// Total: to QEMU's exit.
	Total time.Duration
}

// Exec boots the target's guest with the program as its only task and
// returns how it ended: the program's exit status, or why there is none.
// The program's output reaches o.Streams as it is written. An error means
// the guest could not be brought up (a ProgramError for a program that
// cannot run there); QEMU is gone when Exec returns.
func Exec(ctx context.Context, o ExecOptions) (*ExecResult, error) {
	start := o.Start
	if start.IsZero() {
		start = time.Now()
	}
	t := o.Target
	a, err := arch.Lookup(t.Arch)
	if err != nil {
		return nil, err
	}
	prog, err := ReadProgram(o.Program)
	if err != nil {
		return nil, err
	}
	if !prog.RunsOn(a) {
		return nil, &ProgramError{o.Program, fmt.Errorf("built for %s, which %s guests do not run", prog.Arch.Name, t.Name)}
	}
	t.MemoryMB = cmp.Or(o.MemoryMB, t.ExecMemoryMB())
	g, err := prepareKernel(ctx, &o.Options, t, a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	g.cpus = cmp.Or(o.CPUs, t.CPUs, 1)
	if a.MaxCPUs > 0 && g.cpus > a.MaxCPUs {
		if o.CPUs > a.MaxCPUs {
			return nil, fmt.Errorf("%s: --cpus %d: %s guests (QEMU's %s with a %s) run on at most %d", t.Name, o.CPUs, a.Name, a.Machine, a.CPU, a.MaxCPUs)
		}
		o.logf("[%s] %d CPUs, not %d: %s guests (QEMU's %s with a %s) run on at most %d", t.Name, a.MaxCPUs, g.cpus, a.Name, a.Machine, a.CPU, a.MaxCPUs)
		g.cpus = a.MaxCPUs
	}
	res := &ExecResult{Target: t.Name, Kernel: g.kernel.Package + " " + g.kernel.Version}
	// A guest that can wait for work has the host's share: the program,
	// its directory and libraries are shown where they are. One that
	// cannot (a local kernel without 9p) gets copies in its initramfs.
	var files []initramfs.File
	var binds []proto.Bind
	if _, serr := g.Standby(ctx, &o.Options, "exec"); serr == nil {
		files, binds, err = execShared(ctx, &o, g, prog, res)
	} else {
		o.logf("[%s] copying the program and its directory into the initramfs: %v", t.Name, serr)
		if err = prog.Static(); err == nil {
			files, err = execFiles(ctx, &o, g, res)
		}
	}
	if err != nil {
		return nil, err
	}
	b, err := g.start(ctx, &o.Options, "exec", files, binds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	defer b.Close()
	res.Accel, res.Initramfs = b.Accel, b.Initramfs
	res.Start, res.StartNote = b.Start, b.StartNote
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultExecTimeout
	}
	dl := deadlines(t, a, b.Accel, o.TimeScale)
	qemuStart := b.Started
	res.ExecWatch = vm.WatchExec(ctx, b, qemuStart, vm.ExecDeadlines{
		Boot: dl.Boot, Silence: dl.Progress, Run: timeout, Exit: dl.Exit, Drain: dl.Drain,
	}, o.Streams)
	w, tm := res.ExecWatch, &res.Timings
	tm.Prepare = qemuStart.Sub(start)
	tm.Total = tm.Prepare + w.Gone
	if w.Started > 0 {
		tm.Boot = w.Started
		tm.FirstInstruction = tm.Prepare + w.Started
		tm.GuestUptime = time.Duration(w.Start.UptimeNS)
	}
	if w.Exited > 0 {
		tm.Run = w.Exited - w.Started
		tm.PowerOff = w.Gone - w.Exited
	}
	for _, check := range res.checks {
		if err := check(); err != nil {
			return nil, fmt.Errorf("%s: the guest ran with a damaged cache entry, so its run says nothing: %w", t.Name, err)
		}
	}
	return res, nil
}

// execShared is what an exec guest with the host's share gets: the exec
// init's files and the spec, and the host paths it shows (execBinds): the
// program runs from its own path, in the working directory, under the
// module root, as go test runs it.
func execShared(ctx context.Context, o *ExecOptions, g *guest, prog *Program, res *ExecResult) ([]initramfs.File, []proto.Bind, error) {
	layouts, err := readLayouts(o.Builtin)
	if err != nil {
		return nil, nil, err
	}
	files, err := layouts.Files("exec", g.kernel.Release, func(e initramfs.LayoutEntry, mode uint32) ([]initramfs.File, error) {
		if files, ok, err := g.baseSource(ctx, &o.Options, e, mode); ok {
			return files, err
		}
		if e.Source == "program" {
			return nil, nil
		}
		return nil, fmt.Errorf("no source %q for an exec guest", e.Source)
	})
	if err != nil {
		return nil, nil, err
	}
	progPath, err := filepath.Abs(o.Program)
	if err != nil {
		return nil, nil, err
	}
	spec := proto.ExecSpec{Version: proto.ExecVersion, Path: progPath, Args: o.Args, Env: o.Env, Dir: "/"}
	if spec.Env == nil {
		spec.Env = ExecBaseEnv
	}
	if len(spec.Args) == 0 {
		spec.Args = []string{o.Program}
	}
	dir := ""
	if o.Dir != "" {
		if dir, err = filepath.Abs(o.Dir); err != nil {
			return nil, nil, err
		}
		spec.Dir = dir
	}
	shown := *prog
	shown.Path = progPath
	var user *archive.Userland
	if !hostRuns(g.arch) && o.Userland != nil {
		// Without it a program that opens /bin/bash or runs clang fails
		// there, as it would on a machine without them; with the host's
		// it would find another arch's.
		if user, err = o.Userland(ctx, g.arch.DebianArch); err != nil {
			return nil, nil, fmt.Errorf("/bin/bash for %s: %w", g.arch.Name, err)
		}
		if user.Clang == nil {
			o.logf("[%s] no clang in the guest (a test that runs it fails there): %v", g.target.Name, user.ClangErr)
		} else {
			res.checks = append(res.checks, user.Clang.Check)
		}
	}
	var goroot string
	if !hostRuns(g.arch) {
		var notServed func(string) string
		if o.Cache != nil {
			notServed = func(version string) string { return o.Cache.Path("tools", "go-not-served-"+version) }
		}
		if goroot, err = goToolchain(ctx, progPath, g.arch, notServed); err != nil {
			o.logf("[%s] no Go toolchain of the guest's arch at GOROOT (a test that runs go fails there): %v", g.target.Name, err)
		}
	}
	binds, err := execBinds(ctx, dir, o.Shares, &shown, g.arch, user, goroot)
	if err != nil {
		return nil, nil, &ProgramError{o.Program, err}
	}
	// Modules asked for come with the kernel's whole module tree, where
	// modprobe finds them and what they need.
	spec.Modules = append(slices.Clone(g.target.Modules), o.Modules...)
	if len(spec.Modules) > 0 {
		tree, err := o.Kernels.ModuleTree(ctx, g.target, g.kernel)
		if err != nil {
			return nil, nil, fmt.Errorf("modules %s: %w", strings.Join(spec.Modules, ", "), err)
		}
		binds = append(binds, proto.Bind{Host: tree.Dir, Guest: "/lib/modules/" + g.kernel.Release})
	}
	if err := checkWork(binds); err != nil {
		return nil, nil, &ProgramError{o.Program, err}
	}
	res.Binds = binds
	// The host's PATH directories the guest shows: the host's own where
	// the arch is the host's; else GOROOT/bin, which holds the guest
	// arch's go.
	spec.Env = withHostPath(spec.Env, binds)
	if slices.ContainsFunc(binds, func(b proto.Bind) bool { return b.Guest == proto.HostGoCache }) &&
		!slices.ContainsFunc(spec.Env, func(kv string) bool { return strings.HasPrefix(kv, "GOCACHEPROG=") }) {
		spec.Env = append(spec.Env, proto.CacheProgEnv)
	}
	if user != nil && user.Clang != nil {
		spec.Env = withPath(spec.Env, llvmDir(user.Clang)+"/bin")
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, nil, err
	}
	return append(files, initramfs.File{Path: proto.ExecSpecPath, Mode: 0o644, Data: specJSON}), binds, nil
}

// withPath adds dir to the end of env's PATH, if it has one.
func withPath(env []string, dir string) []string {
	env = slices.Clone(env)
	for i, kv := range env {
		if path, ok := strings.CutPrefix(kv, "PATH="); ok && !slices.Contains(filepath.SplitList(path), dir) {
			env[i] = kv + string(filepath.ListSeparator) + dir
		}
	}
	return env
}

// withHostPath adds to env's PATH the directories of the host's PATH the
// guest shows (binds): the host's programs run there, and a go test
// binary runs go from where the host has it.
func withHostPath(env []string, binds []proto.Bind) []string {
	env = slices.Clone(env)
	for i, kv := range env {
		path, ok := strings.CutPrefix(kv, "PATH=")
		if !ok {
			continue
		}
		have := filepath.SplitList(path)
		for _, d := range filepath.SplitList(os.Getenv("PATH")) {
			if !filepath.IsAbs(d) || slices.Contains(have, d) {
				continue
			}
			for _, b := range binds {
				if d == b.Guest || strings.HasPrefix(d, b.Guest+"/") {
					have = append(have, d)
					break
				}
			}
		}
		env[i] = "PATH=" + strings.Join(have, string(filepath.ListSeparator))
	}
	return env
}

// execFiles is an exec guest's initramfs: the exec init as /init, the
// kernel's config in /boot, the spec, the program, and the copy of the
// working directory. The program keeps its host path where it can, so
// that argv[0] names it.
func execFiles(ctx context.Context, o *ExecOptions, g *guest, res *ExecResult) ([]initramfs.File, error) {
	layouts, err := readLayouts(o.Builtin)
	if err != nil {
		return nil, err
	}
	files, err := layouts.Files("exec", g.kernel.Release, func(e initramfs.LayoutEntry, mode uint32) ([]initramfs.File, error) {
		if files, ok, err := g.baseSource(ctx, &o.Options, e, mode); ok {
			return files, err
		}
		switch e.Source {
		case "program":
			return nil, nil // below: it needs the copy's paths
		}
		return nil, fmt.Errorf("no source %q for an exec guest", e.Source)
	})
	if err != nil {
		return nil, err
	}
	spec := proto.ExecSpec{Version: proto.ExecVersion, Args: o.Args, Env: o.Env, Dir: "/"}
	if spec.Env == nil {
		spec.Env = ExecBaseEnv
	}
	copied := map[string]bool{} // regular files of the copy
	if o.Dir != "" {
		dir, err := filepath.Abs(o.Dir)
		if err != nil {
			return nil, err
		}
		if reservedGuestPath(dir) {
			return nil, fmt.Errorf("exec cannot copy %s into the guest: the guest keeps it for itself (run from another directory)", dir)
		}
		limit := o.TreeLimit
		if limit <= 0 {
			limit = DefaultTreeLimit
		}
		tree, st, err := treeFiles(dir, limit)
		if err != nil {
			return nil, err
		}
		for _, f := range tree {
			copied[f.Path] = !f.Dir && f.Symlink == ""
		}
		res.TreeFiles, res.TreeBytes = st.Files, st.Bytes
		files = append(files, tree...)
		spec.Dir = dir
	}
	progPath, err := filepath.Abs(o.Program)
	if err != nil {
		return nil, err
	}
	spec.Path = progPath
	if !copied[progPath] {
		if isUnder(progPath, spec.Dir) || reservedGuestPath(progPath) {
			// A symlink or a file the copy leaves out (under .git), or a
			// path the guest keeps: the program goes where ksystest's
			// files are, and argv[0] still says what the caller gave.
			spec.Path = "/ksystest/bin/" + filepath.Base(progPath)
		}
		data, err := os.ReadFile(o.Program)
		if err != nil {
			return nil, err
		}
		files = append(files, initramfs.File{Path: spec.Path, Mode: 0o755, Data: data})
	}
	if len(spec.Args) == 0 {
		spec.Args = []string{o.Program}
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return append(files, initramfs.File{Path: proto.ExecSpecPath, Mode: 0o644, Data: specJSON}), nil
}

func isUnder(p, dir string) bool {
	return dir != "/" && strings.HasPrefix(p, dir+"/")
}
