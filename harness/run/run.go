// Package run orchestrates a matrix: for each selected target it ensures
// the kernel, writes the initramfs, boots the guest, watches it, compares
// what the probes captured with what was passed, and writes results as
// each cell finishes. It is the only package that knows the whole flow;
// it must not import agent or bpf (the host never links cilium/ebpf).
package run

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/expect"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/qemu"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/sysparams"
	"github.com/ksystest/ksystest/harness/vm"
)

// KernelSource gives the kernel a target boots, the BTF to load probes
// against on it (a path, or "" for the kernel's own), and the BTF the host
// reads prototypes from ("" for none).
type KernelSource interface {
	Kernel(ctx context.Context, t matrix.Target, a arch.Arch) (*kernel.Kernel, error)
	BTF(ctx context.Context, t matrix.Target, a arch.Arch, k *kernel.Kernel) (*result.BTF, string, error)
	HostBTF(ctx context.Context, k *kernel.Kernel, btfPath string) (string, error)
	// Modules gives modules names ask for, with their dependencies, from
	// the kernel's package (kernel.ErrNoModules: it has none).
	Modules(ctx context.Context, t matrix.Target, a arch.Arch, k *kernel.Kernel, names []string) (*kernel.ModuleSet, error)
	// ModuleTree gives the kernel's whole module tree, as installed.
	ModuleTree(ctx context.Context, t matrix.Target, k *kernel.Kernel) (*kernel.ModuleTree, error)
}

// Options configure a run.
type Options struct {
	Matrix    *matrix.Matrix
	Catalogue *matrix.Catalogue
	Targets   []matrix.Target
	OutDir    string
	Jobs      int
	Kernels   KernelSource
	Backend   vm.Backend
	// Agents gives the guest programs.
	Agents Programs
	// Workloads builds the workload programs ksystest carries; nil when
	// no case needs them.
	Workloads WorkloadPrograms
	// Builtin holds ksystest's own probe objects (bpf/obj/probes_*.o)
	// and ksystest.h: the ksystest package's Data.
	Builtin fs.FS
	// BPF compiles users' collections; nil runs prebuilt objects only.
	BPF *BPFToolchain
	// Libbpf builds the libbpf loaders' helpers; nil when no case loads
	// with libbpf.
	Libbpf LibbpfPrograms
	// LoaderArgs are more arguments for a loader's helper, by loader
	// (tests make a libbpf mis-resolve on purpose with them).
	LoaderArgs map[string][]string
	// Accel forces "kvm" or "tcg"; empty chooses per target.
	Accel string
	// Cache keeps the saved guests cells and execs restore; nil boots
	// every guest.
	Cache *cache.Cache
	// Fresh boots every guest, as if there were no saved ones.
	Fresh bool
	// Busybox gives a static busybox for a Debian suite and arch: an
	// exec guest's /bin (sh and the usual applets). nil: none.
	Busybox func(ctx context.Context, suite, debArch string) (string, error)
	// Userland gives Debian's bash and clang for a Debian arch
	// (archive.Fetcher.Userland), shown in exec guests whose arch is not
	// the host's as /bin/bash, /usr/lib/llvm-N and on PATH. nil: none.
	Userland func(ctx context.Context, debArch string) (*archive.Userland, error)
	// Logf reports progress (stderr).
	Logf func(format string, args ...any)
	// ExtraCmdline and Paused reach every guest (tests use them to make
	// real guests crash or hang).
	ExtraCmdline []string
	Paused       bool
	// TimeScale multiplies every deadline (0 means 1); unit tests shrink
	// them.
	TimeScale float64
	// Shard, "K/N", is recorded in the results of a sharded run.
	Shard string
	// OnPhase, when set, hears each cell's phase as it changes:
	// "fetching", "booting (tcg)", "running", "done: pass" (a live view).
	OnPhase func(target, phase string)
}

func (o *Options) phase(target, phase string) {
	if o.OnPhase != nil {
		o.OnPhase(target, phase)
	}
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// Run runs every target and returns the results; results.json and
// results.jsonl in OutDir are updated after each cell, so an interrupted
// run keeps every finished cell. What an earlier run left there goes
// first (ClearOutputs).
func Run(ctx context.Context, o Options) (*result.Run, error) {
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	if err := ClearOutputs(o.OutDir); err != nil {
		return nil, err
	}
	rw, err := newResultWriter(o.OutDir, o.Matrix.File)
	if err != nil {
		return nil, err
	}
	for _, t := range o.Matrix.Targets.List {
		rw.run.Targets = append(rw.run.Targets, t.Name)
	}
	rw.run.Shard = o.Shard
	defer rw.close()

	jobs := max(o.Jobs, 1)
	sem := make(chan struct{}, jobs)
	cells := make([]result.Cell, len(o.Targets))
	var wg sync.WaitGroup
	// Slots are taken in matrix order, so with one job cells run in the
	// order the matrix lists them.
	for i, t := range o.Targets {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			cells[i] = infraCell(t, "interrupted before start")
			rw.add(cells[i])
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cells[i] = runCell(ctx, &o, t)
			if err := rw.add(cells[i]); err != nil {
				o.logf("write results: %v", err)
			}
		}()
	}
	wg.Wait()
	return rw.finish(cells)
}

func infraCell(t matrix.Target, reason string) result.Cell {
	return result.Cell{Target: t.Name, Arch: t.Arch, Outcome: result.OutcomeInfraError, Reason: reason}
}

func runCell(ctx context.Context, o *Options, t matrix.Target) result.Cell {
	cellStart := time.Now()
	cell := result.Cell{Target: t.Name, Arch: t.Arch}
	logf := func(format string, args ...any) { o.logf("[%s] "+format, append([]any{t.Name}, args...)...) }
	a, err := arch.Lookup(t.Arch)
	if err != nil {
		cell.Outcome, cell.Reason = result.OutcomeInfraError, err.Error()
		return cell
	}
	planned, _ := o.Catalogue.PlanTarget(t.Name, a, sysparams.Kernel{})
	fail := func(outcome result.Outcome, reason string) result.Cell {
		cell.Outcome, cell.Reason = outcome, reason
		for _, cd := range planned {
			cell.Cases = append(cell.Cases, expect.Missing(cd, a.Name, reason))
		}
		o.phase(t.Name, "done: "+string(outcome))
		logf("%s: %s", outcome, reason)
		return cell
	}

	fetchStart := time.Now()
	o.phase(t.Name, "fetching")
	logf("fetching kernel (%s)", t.Kernel.Suite)
	g, err := prepare(ctx, o, t, a)
	cell.Timings.FetchSec = secs(time.Since(fetchStart))
	if k := g.kernel; k != nil {
		cell.Kernel = result.Kernel{Package: k.Package, Version: k.Version, Suite: k.Suite, SHA256: k.SHA256, Release: k.Release, Cached: k.Cached, BTF: g.btf}
	}
	cell.Builds = g.builds
	for _, b := range g.builds {
		if b.Warnings != "" {
			logf("%s: the compiler warned:\n%s", b.Collection, b.Warnings)
		}
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		if g.planned != nil {
			planned = g.planned
		}
		return fail(result.OutcomeConfigError, err.Error())
	}
	if err != nil {
		outcome := result.OutcomeInfraError
		if errors.Is(err, kernel.ErrLock) {
			outcome = result.OutcomeConfigError // the lock is wrong, not the host
		}
		return fail(outcome, err.Error())
	}
	k := g.kernel
	planned, cell.Notes = g.planned, g.notes

	files, err := g.files(ctx, o)
	if errors.As(err, &ce) {
		return fail(result.OutcomeConfigError, err.Error())
	}
	if err != nil {
		return fail(result.OutcomeInfraError, err.Error())
	}
	cellDir := filepath.Join(o.OutDir, t.Name)
	if err := os.MkdirAll(cellDir, 0o755); err != nil {
		return fail(result.OutcomeInfraError, err.Error())
	}
	console, err := os.Create(filepath.Join(cellDir, "console.log"))
	if err != nil {
		return fail(result.OutcomeInfraError, err.Error())
	}
	defer console.Close()
	cell.ConsoleLog = filepath.Join(t.Name, "console.log")

	b, err := g.start(ctx, o, "agent", files, nil)
	if err != nil {
		return fail(result.OutcomeInfraError, err.Error())
	}
	defer b.Close()
	cell.Timings.HostSec = secs(b.Started.Sub(cellStart))
	cell.Accel, cell.Kernel.BootImage = b.Accel, b.BootImage
	cell.Start, cell.StartNote = b.Start, b.StartNote
	cases := 0
	w := vm.Monitor(ctx, b, b.Started, deadlines(t, a, b.Accel, o.TimeScale), console, func(ev proto.Event) {
		switch ev.Type {
		case proto.EventHello:
			o.phase(t.Name, "running")
		case proto.EventCase:
			cases++
			o.phase(t.Name, fmt.Sprintf("running %d/%d", cases, len(planned)))
		}
	})
	cell.Timings.AgentStartSec = secs(w.AgentStart)
	cell.Timings.DoneSec = secs(w.Done)
	cell.Timings.ExitSec = secs(w.Exit)
	judge(&cell, t, a, k, planned, w)
	o.phase(t.Name, "done: "+string(cell.Outcome))
	logf("%s in %.1fs (agent %.1fs, done %.1fs)%s", cell.Outcome, cell.Timings.ExitSec,
		cell.Timings.AgentStartSec, cell.Timings.DoneSec, reasonSuffix(cell.Reason))
	return cell
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

func (o *Options) accel(a arch.Arch) (string, string) {
	switch o.Accel {
	case qemu.AccelTCG, qemu.AccelKVM:
		return o.Accel, "forced by --accel"
	}
	return qemu.ChooseAccel(a, qemu.HostKVM)
}

// deadlines scales the target's boot budget by the arch's emulation
// slowdown; KVM guests get the unscaled budget.
func deadlines(t matrix.Target, a arch.Arch, accel string, timeScale float64) vm.Deadlines {
	scale := a.Slowdown
	if accel == qemu.AccelKVM {
		scale = 1
	}
	if timeScale > 0 {
		scale *= timeScale
	}
	s := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	return vm.Deadlines{
		Boot:     s(time.Duration(t.BootTimeout)),
		Progress: s(60 * time.Second),
		Exit:     s(20 * time.Second),
		Drain:    s(2 * time.Second),
	}
}

// judge turns what the monitor saw into case verdicts and the cell's
// outcome.
func judge(cell *result.Cell, t matrix.Target, a arch.Arch, k *kernel.Kernel, planned []matrix.Planned, w *vm.Watch) {
	cell.Wrapper = checkWrapper(t, a, k, w)
	got := map[string]proto.CaseResult{}
	for _, ev := range w.Events {
		switch ev.Type {
		case proto.EventHello:
			if ev.Hello != nil {
				cell.Timings.GuestUptimeSec = ev.Hello.UptimeSec
				if ev.Hello.Kernel != "" {
					cell.Kernel.Release = ev.Hello.Kernel
				}
			}
		case proto.EventLoaded:
			if ev.Loaded != nil {
				cell.Timings.ProbeLoadMS = ev.Loaded.LoadMillis
				cell.Timings.BTFMS, cell.Timings.AttachMS, cell.Timings.CasesMS = ev.Loaded.BTFMillis, ev.Loaded.AttachMillis, ev.Loaded.CasesMillis
				cell.Timings.SetupMS, cell.Timings.KallsymsMS, cell.Timings.CaseLoadMS = ev.Loaded.SetupMillis, ev.Loaded.KallsymsMillis, ev.Loaded.CaseLoadMillis
				for _, cl := range ev.Loaded.Collections {
					cell.Collections = append(cell.Collections, result.CollectionLoad(cl))
				}
			}
		case proto.EventCase:
			if ev.Case != nil {
				got[ev.Case.Name] = *ev.Case
			}
		}
	}
	allPass := true
	for _, cd := range planned {
		var c result.Case
		if r, ok := got[cd.Name]; ok {
			loaderPrediction(&cd, r.Section, cell.Wrapper)
			if pw := cd.Workload; pw != nil {
				// A workload's probes are predicted as their own cases.
				for i := range pw.Probes {
					if pr, ok := got[pw.Probes[i].Case.Name]; ok {
						loaderPrediction(&pw.Probes[i].Case, pr.Section, cell.Wrapper)
					}
				}
			}
			c = expect.Compare(cd, cell.Arch, r)
			c.Loader = caseLoader(cd, r, cell.Collections)
		} else {
			reason := "the agent never reported this case"
			if w.Outcome != "" {
				reason = fmt.Sprintf("not run: %s", w.Outcome)
			}
			c = expect.Missing(cd, cell.Arch, reason)
		}
		if !c.Verdict.OK() {
			allPass = false
		}
		cell.Cases = append(cell.Cases, c)
	}
	switch {
	case w.Outcome != "":
		cell.Outcome, cell.Reason = w.Outcome, w.Reason
		cell.ConsoleTail = w.Tail
	case !cell.Wrapper.Agree:
		cell.Outcome, cell.Reason = result.OutcomeFail, cell.Wrapper.Note
	case allPass:
		cell.Outcome = result.OutcomePass
	default:
		cell.Outcome = result.OutcomeFail
	}
}

func secs(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// ErrNoTargets means --only selected nothing.
var ErrNoTargets = errors.New("no target selected")

// caseLoader is how the case's collection was loaded: by its loader, the
// wrapper value read back, and where its programs attached.
func caseLoader(cd matrix.Planned, r proto.CaseResult, loads []result.CollectionLoad) *result.CaseLoader {
	if cd.Loader == "" {
		return nil
	}
	l := &result.CaseLoader{Name: cd.Loader}
	for _, cl := range loads {
		if cl.Name == cd.CollectionKey() {
			l.Version, l.Wrapper, l.ResolvedBy = cl.LoaderVersion, cl.Wrapper, cl.ResolvedBy
		}
	}
	var places []string
	for _, prog := range slices.Sorted(maps.Keys(r.Attached)) {
		places = append(places, prog+" → "+r.Attached[prog])
	}
	l.Attached = strings.Join(places, "; ")
	return l
}
