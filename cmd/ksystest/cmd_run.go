package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/bpfbuild"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/guestbuild"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/qemu"
	"github.com/ksystest/ksystest/harness/run"
)

// archiveFlags are the flags of every command that fetches from Debian
// (and from Ubuntu, for targets whose kernels are Ubuntu's).
type archiveFlags struct {
	mirror, keyring, cacheDir string
	ubuntu                    archive.MirrorConfig
	allowExpired, refresh     bool
}

func (a *archiveFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&a.mirror, "debian-mirror", "", "Debian mirror URL (default: $"+archive.MirrorEnv+", else the host's apt sources)")
	fs.StringVar(&a.keyring, "keyring", archive.DefaultKeyring, "OpenPGP keyring that signs the archive")
	fs.StringVar(&a.ubuntu.Mirror, "ubuntu-mirror", "", "Ubuntu mirror URL, for Ubuntu's kernels (default: $"+archive.UbuntuMirrorEnv+", else the host's apt sources, else debootstrap's default)")
	fs.StringVar(&a.ubuntu.Keyring, "ubuntu-keyring", "", "OpenPGP keyring that signs Ubuntu's archive (default: the host's "+archive.UbuntuKeyring+
		", package ubuntu-keyring; without it, the keyring of Debian's ubuntu-keyring package, fetched and verified through Debian's signed index)")
	fs.StringVar(&a.cacheDir, "cache-dir", cache.DefaultCacheDir(), "download cache (or $"+cache.CacheEnv+")")
	fs.BoolVar(&a.allowExpired, "allow-expired-release", false, "accept an InRelease past its Valid-Until (default: follow apt's Acquire::Check-Valid-Until)")
	fs.BoolVar(&a.refresh, "refresh", false, "ask the mirror for new indexes even if the cached ones are recent")
}

func (a *archiveFlags) fetcher(logf func(string, ...any)) (*archive.Fetcher, error) {
	return a.fetcherWith(nil, logf)
}

// fetcherWith makes the fetcher, keeping downloads in cache (nil: one at
// --cache-dir).
func (a *archiveFlags) fetcherWith(store *cache.Cache, logf func(string, ...any)) (*archive.Fetcher, error) {
	f, mirror, err := archive.NewFetcher(archive.FetcherConfig{
		Mirror: a.mirror, Keyring: a.keyring, Ubuntu: a.ubuntu, CacheDir: a.cacheDir, Cache: store,
		AllowExpired: a.allowExpired, Refresh: a.refresh, Logf: logf,
	})
	if err != nil {
		return nil, &exitError{code: exitInfra, err: err}
	}
	logf("Debian mirror %s", mirror)
	return f, nil
}

// archiveSource is Debian's archive as the booting commands reach it: the cache
// at once, the fetcher (a mirror, the keyring) only when something first
// needs it, so that a matrix of local kernels needs neither.
type archiveSource struct {
	Cache *cache.Cache
	make  func() (*archive.Fetcher, error)
	once  sync.Once
	f     *archive.Fetcher
	err   error
}

func newArchive(af *archiveFlags, progress ui) *archiveSource {
	store := &cache.Cache{Dir: af.cacheDir, Logf: progress.logf}
	store.Sweep()
	return &archiveSource{Cache: store, make: func() (*archive.Fetcher, error) {
		f, err := af.fetcherWith(store, progress.logf)
		if err == nil {
			f.OnDownload = progress.download
		}
		return f, err
	}}
}

// Fetcher makes the fetcher on first use; every later call gets the same
// one, or the same error.
func (a *archiveSource) Fetcher() (*archive.Fetcher, error) {
	a.once.Do(func() { a.f, a.err = a.make() })
	return a.f, a.err
}

// Busybox is the fetcher's Busybox, made on first use.
func (a *archiveSource) Busybox(ctx context.Context, suite, debArch string) (string, error) {
	f, err := a.Fetcher()
	if err != nil {
		return "", err
	}
	return f.Busybox(ctx, suite, debArch)
}

// Userland is the fetcher's Userland, made on first use.
func (a *archiveSource) Userland(ctx context.Context, debArch string) (*archive.Userland, error) {
	f, err := a.Fetcher()
	if err != nil {
		return nil, err
	}
	return f.Userland(ctx, debArch)
}

func cmdRun(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("run [flags]", `
Boot one QEMU guest per matrix target, run every case of the catalogue in
it, and print a target × case table. Writes DIR/results.json (and
results.jsonl, one line per finished cell) and each guest's console log
in DIR/TARGET/console.log.`, s)
	var (
		outDir = fs.String("out", "ksystest-out", "output directory")
		only   = fs.String("only", "", "run only targets whose name matches one of these comma-separated globs (e.g. 'arm64*,x86_64-6.1')")
		shard  = fs.String("shard", "", "run shard K/N of the selected targets (deterministic, balanced by cost)")
		// One more guest than CPUs: TCG guests wait on I/O often enough
		// that 3 guests on 2 cores finish the default matrix in 4.3s
		// instead of 5.7s.
		jobs    = fs.Int("jobs", runtime.NumCPU()+1, "guests to run at once")
		verbose = fs.Bool("v", false, "verbose: QEMU command lines and timings")
		quiet   = fs.Bool("q", false, "quiet: no progress, only the table")
		gf      guestFlags
	)
	gf.register(fs)
	gf.registerFresh(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	// Nothing an earlier run left in --out may pass for this run's
	// verdicts, however early this one ends.
	if err := run.ClearOutputs(*outDir); err != nil {
		return usageErr("--out %s: %v", *outDir, err)
	}
	m, cat, targets, err := loadConfig(gf.matrixFile, *only, *shard)
	if err != nil {
		return err
	}
	progress := newUI(s, *quiet)
	defer progress.close()
	b, err := gf.setup(m, cat, targets, progress, *verbose)
	if err != nil {
		return err
	}
	o := b.withBPF().Options
	o.OutDir, o.Jobs, o.Shard, o.OnPhase = *outDir, *jobs, *shard, progress.phase
	res, err := run.Run(ctx, o)
	progress.close()
	if err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	if err := writeReports(s, res, *outDir); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "results: %s (and junit.xml, report.md, results.jsonl, TARGET/console.log)\n", filepath.Join(*outDir, "results.json"))
	if ctx.Err() != nil {
		return &exitError{code: exitInfra, err: fmt.Errorf("interrupted: results of finished cells are in %s", *outDir)}
	}
	if code := res.ExitCode(); code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// kvmProbe is the KVM --accel kvm is checked against (tests replace it).
var kvmProbe = qemu.HostKVM

// matrixUsage is the --matrix flag's help, shared by the commands that
// take one.
const matrixUsage = "matrix or project config file (default: ./matrix.yaml, else ksystest's default matrix)"

// loadMatrix reads the matrix file, or when none is named, ./matrix.yaml
// if there is one, else ksystest's default matrix (an installed ksystest
// works from any directory).
func loadMatrix(file string) (*matrix.Matrix, error) {
	if file == "" {
		if _, err := os.Stat("matrix.yaml"); err != nil {
			return matrix.LoadBuiltin(ksystest.Data)
		}
		file = "matrix.yaml"
	}
	return matrix.Load(file, ksystest.Data)
}

func loadConfig(matrixFile, only, shard string) (*matrix.Matrix, *matrix.Catalogue, []matrix.Target, error) {
	m, err := loadMatrix(matrixFile)
	if err != nil {
		return nil, nil, nil, &exitError{code: exitUsage, err: err}
	}
	cat, err := m.Catalogue()
	if err != nil {
		return nil, nil, nil, &exitError{code: exitUsage, err: err}
	}
	targets, err := m.Select(only)
	if err != nil {
		return nil, nil, nil, &exitError{code: exitUsage, err: err}
	}
	if len(targets) == 0 {
		return nil, nil, nil, usageErr("%v: --only %q matches none of %s", run.ErrNoTargets, only, targetNames(m))
	}
	if shard != "" {
		spec, err := run.ParseShard(shard)
		if err != nil {
			return nil, nil, nil, &exitError{code: exitUsage, err: err}
		}
		targets = run.Shard(targets, cat, spec)
	}
	return m, cat, targets, nil
}

func targetNames(m *matrix.Matrix) string {
	var names []string
	for _, t := range m.Targets.List {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

// debianKernels is where every booting command takes kernels from: the
// archive, pinned by lock when there is one, with BTF made as the recipe
// this binary carries says (images/btf.yaml); or local files.
func debianKernels(a *archiveSource, lock *kernel.Lock) (run.DebianKernels, error) {
	recipe, err := kernel.ReadBTFRecipe(ksystest.Data, "images/btf.yaml")
	if err != nil {
		return run.DebianKernels{}, err
	}
	return run.DebianKernels{Archive: a.Fetcher, Cache: a.Cache, Lock: lock, BTFRecipe: recipe}, nil
}

// guestSources gives what every booting command needs: Debian's archive,
// its fetcher made on first use and reporting downloads to progress, and
// the guest programs. It sweeps first what killed runs left in the cache
// and the host's temporary directory.
func guestSources(af *archiveFlags, agentDir string, progress ui) (*archiveSource, run.Programs) {
	for _, s := range cache.SweepHostScratch() {
		if s.Err != nil {
			progress.logf("cannot remove %s, left behind by a run that did not end cleanly: %v", s.Dir, s.Err)
		} else {
			progress.logf("removed %s (%d MiB), left behind by a run that did not end cleanly", s.Dir, s.Size>>20)
		}
	}
	a := newArchive(af, progress)
	return a, guestPrograms(agentDir, a.Cache, progress.logf)
}

// LibbpfSuite is where libbpf's headers for users' sources come from:
// BPF_KSYSCALL takes six arguments from libbpf 1.2 on.
const LibbpfSuite = "trixie"

// bpfToolchain compiles users' collections: clang, libbpf's headers from
// Debian (verified like kernels, cached), bpftool for vmlinux.h.
func bpfToolchain(a *archiveSource) *run.BPFToolchain {
	debArch := "amd64"
	if a, err := arch.ByGOARCH(runtime.GOARCH); err == nil {
		debArch = a.DebianArch
	}
	return &run.BPFToolchain{
		Compiler: &bpfbuild.Compiler{Cache: a.Cache},
		LibbpfHeaders: func(ctx context.Context) (string, error) {
			f, err := a.Fetcher()
			if err != nil {
				return "", err
			}
			dir, err := f.Tree(ctx, LibbpfSuite, debArch, "libbpf-dev", "usr/include/bpf")
			return filepath.Join(dir, "usr/include"), err
		},
		Cache: a.Cache,
	}
}

// workloadPrograms builds the workload programs ksystest carries, from
// its own source: C with Debian's cross gcc, Go with the go tool.
func workloadPrograms(cache *cache.Cache, logf func(string, ...any)) run.WorkloadPrograms {
	return run.CarriedWorkloads{
		C:  &guestbuild.CBuilder{Source: ksystest.GuestSource(), Cache: cache, Logf: logf},
		Go: &guestbuild.GoBuilder{Source: ksystest.GuestSource(), Cache: cache, Logf: logf},
	}
}

// guestPrograms decides where guest programs come from: --agent-dir when
// given, else built from the source this binary carries (once per source
// and arch; the cache keeps them), so an installed ksystest works from any
// directory.
func guestPrograms(dir string, cache *cache.Cache, logf func(string, ...any)) run.Programs {
	if dir != "" {
		return run.Prebuilt{Dir: dir}
	}
	return &guestbuild.GoBuilder{Source: ksystest.GuestSource(), Cache: cache, Logf: logf}
}
