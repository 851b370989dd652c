package run

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing/iotest"
	"time"

	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/initramfs"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/proto"
	"github.com/ksystest/ksystest/harness/qemu"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/vm"
)

// A saved guest: each kernel is booted once (per QEMU, machine and
// standby initramfs) up to where ksystest-standby waits for work, and
// saved in the cache; cells and execs restore it and hand it the run's
// files (proto.Work). See proto/standby.go for the channel.

// standbyIdle is how long a standby guest sits idle before it is saved.
// Under QEMU 7.2's TCG, ppc64le, riscv64 and mips64el guests saved right
// after activity can come back without their timer interrupt (every sleep
// then hangs); after two idle seconds none did, in 35 saves and 87
// restores. The idle costs once per saved guest, so every arch gets it.
const standbyIdle = 2 * time.Second

// takeTimeout bounds a restored guest's start, from QEMU's start to the
// standby init's word that it has the work: loading the state and
// unpacking the run's files (before the arch's slowdown). A restored
// guest whose timer was lost never says it.
const takeTimeout = 15 * time.Second

// stateFile is the saved machine in a state's cache entry, as QEMU wrote
// it: QEMU reads it straight from the file, which on two cores loads a
// machine in about a third of the time a decompressing pipe takes (0.18
// s against 0.65 s for x86_64-6.1's 71 MiB), at the cost of 3-5 times the
// disk.
const stateFile = "state"

// savedFormat is the version of what a saved guest's cache entry holds.
const savedFormat = 2

// runArchive is the run's files on the share.
const runArchive = "run.cpio"

// shareOptions are the kernel options a guest needs to mount the share:
// 9p over virtio, and the virtio transport of the arch's machine (its
// bus); module names the module an option builds ("" where it is a bool:
// built in or absent).
var shareOptions = []struct{ option, module, bus string }{
	{"9P_FS", "9p", ""},
	{"NET_9P_VIRTIO", "9pnet_virtio", ""},
	{"VIRTIO_PCI", "virtio_pci", "pci"},
	{"S390_GUEST", "", "ccw"}, // virtio_ccw
}

// standbyModules are the modules the guest loads to mount the share, as
// the kernel's config says: an option built in needs none, one not set
// makes the share impossible.
func (g *guest) standbyModules() ([]string, error) {
	var names []string
	for _, o := range shareOptions {
		if o.bus != "" && o.bus != g.arch.VirtioBus {
			continue
		}
		v, err := g.kernel.ConfigValue(o.option)
		if err != nil {
			return nil, err
		}
		switch {
		case v == "m" && o.module != "":
			names = append(names, o.module)
		case v == "y":
		default:
			return nil, fmt.Errorf("the kernel's config does not set CONFIG_%s, which the share that carries a run's files needs", o.option)
		}
	}
	return names, nil
}

// Standby reports whether the target's guests of kind can wait for
// work (the share, and for exec the host's share, with them): returns
// the saved guest's initramfs, or why not. They cannot without the
// modules of the share (a local kernel that does not build them in), on
// a backend that is not QEMU (tests), or paused on purpose (tests).
func (g *guest) Standby(ctx context.Context, o *Options, kind string) ([]initramfs.File, error) {
	if g.base == nil {
		g.base = map[string][]initramfs.File{}
	}
	if base, ok := g.base[kind]; ok {
		return base, nil
	}
	if _, ok := o.Backend.(vm.QEMU); !ok || o.Paused {
		return nil, errors.New("this backend's guests boot with all their files")
	}
	base, err := g.standbyFiles(ctx, o, kind)
	if err != nil {
		return nil, err
	}
	g.base[kind] = base
	return base, nil
}

// start is how a cell or exec's guest comes up, with files (and, for
// exec, binds of host paths):
//   - restored from the kernel's saved guest of that kind (a layout of
//     images/initramfs.yaml: "agent", "exec"), and handed the work;
//   - with --fresh, a kernel command line of the run's own, or a restore
//     that failed (said, its state removed): booted with the saved
//     guest's initramfs and handed the same work, so the guest is the
//     same but for the boot;
//   - where the guest cannot wait for work (Standby): booted with files
//     as its whole initramfs; binds are then impossible, and the caller
//     has copied what they would have shown.
func (g *guest) start(ctx context.Context, o *Options, kind string, files []initramfs.File, binds []proto.Bind) (*booted, error) {
	base, err := g.Standby(ctx, o, kind)
	if err != nil {
		if len(binds) > 0 {
			return nil, err
		}
		o.logf("[%s] booting with every file in the initramfs: %v", g.target.Name, err)
		return g.boot(ctx, o, files, nil)
	}
	note := ""
	if !o.Fresh && o.Cache != nil && len(o.ExtraCmdline) == 0 {
		b, err := g.restore(ctx, o, kind, base, files, binds)
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		note = "restore failed: " + err.Error()
		o.logf("[%s] %s; booting instead", g.target.Name, note)
	}
	b, err := g.bootStandby(ctx, o, kind, base, files, binds)
	if b != nil {
		b.StartNote = note
	}
	return b, err
}

// restore brings the target's saved guest of kind up: the state made if
// the cache lacks it, the files the saved guest lacks written to the
// share, the machine loaded and resumed, and the work handed over. It
// returns once the guest's init has taken the work: the rest of the
// console is its run's.
func (g *guest) restore(ctx context.Context, o *Options, kind string, base, files []initramfs.File, binds []proto.Bind) (*booted, error) {
	state, err := g.savedState(ctx, o, kind, base)
	if err != nil {
		return nil, err
	}
	b, work, share, err := g.workShare(result.StartRestored, base, files)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*booted, error) {
		b.Close()
		return nil, err
	}
	f, err := os.Open(filepath.Join(state.dir, stateFile))
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	// The state is hashed while QEMU loads it, and the guest goes on only
	// if it is the one the manifest says was saved.
	hashed := make(chan error, 1)
	go func() { hashed <- cache.CheckFile(f.Name(), state.sum) }()
	verify := func() error {
		select {
		case err := <-hashed:
			return err
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	b.Accel, b.BootImage = state.accel, "saved guest"
	o.phase(g.target.Name, "restoring ("+state.accel+")")
	o.logf("[%s] restoring %s (%s)", g.target.Name, g.kernel.Release, state.accel)
	b.Started = time.Now()
	inst, err := o.Backend.Start(ctx, g.spec(o, state.accel, work, "", g.shares(kind, share), f))
	if err != nil {
		return fail(err)
	}
	b.Instance = inst
	m, ok := inst.(vm.Machine)
	if !ok {
		return fail(errors.New("the backend's guest cannot be restored"))
	}
	up := time.Now()
	lines := vm.LinesOf(m.Console())
	taken, err := g.handOver(ctx, m, o, lines, verify, binds)
	if taken != nil {
		taken.up = up
	}
	if err != nil {
		lines.Close()
		// A state that loads but does not run on is not kept; a run
		// interrupted meanwhile says nothing of it.
		if ctx.Err() == nil {
			if rerr := o.Cache.Remove(state.dir); rerr == nil {
				err = fmt.Errorf("%w (the saved guest is removed, and made again next time)", err)
			}
		}
		return fail(err)
	}
	b.Instance = taken
	o.logf("[%s] restored: QEMU up in %s, the guest running in %s, its work taken in %s (%s)", g.target.Name,
		taken.up.Sub(b.Started).Round(time.Millisecond), taken.resumed.Sub(b.Started).Round(time.Millisecond),
		taken.taken.Sub(b.Started).Round(time.Millisecond), taken.took)
	return b, nil
}

// handOver resumes a restored guest (verify, nil for a booted one, checks
// its state meanwhile), writes it the work and waits until its init has
// taken it; lines is its console, holding what was read of it already.
// The instance it returns reads on from there.
func (g *guest) handOver(ctx context.Context, m vm.Machine, o *Options, lines *vm.Lines, verify func() error, binds []proto.Bind) (*consoleFrom, error) {
	if verify != nil {
		if err := m.Resume(ctx, verify); err != nil {
			return nil, err
		}
	}
	resumed := time.Now()
	w := newWork(binds)
	if _, err := m.Input().Write(w.Line()); err != nil {
		return nil, fmt.Errorf("hand the guest its work: %w", err)
	}
	timeout := g.scaled(o, takeTimeout)
	var took string
	said, err := awaitStandby(ctx, lines, m.Done(), timeout, proto.StandbyTaken, func(s string) {
		if t, ok := strings.CutPrefix(s, proto.StandbyTook); ok {
			took = t
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, said)
	}
	return &consoleFrom{Instance: m, lines: lines, resumed: resumed, taken: time.Now(), took: took}, nil
}

// newWork is the work a standby guest is handed: the clock, fresh
// entropy, the run's files and binds.
func newWork(binds []proto.Bind) proto.Work {
	w := proto.Work{TimeNS: time.Now().UnixNano(), Entropy: make([]byte, proto.WorkEntropy), Archive: runArchive, Binds: binds}
	rand.Read(w.Entropy)
	return w
}

// checkWork says, before a guest starts, whether the work binds make is
// one its init reads.
func checkWork(binds []proto.Bind) error {
	if n := len(newWork(binds).Line()); n > proto.MaxWorkLine {
		return fmt.Errorf("the guest's work with these host paths is %d bytes, more than the %d its init reads: show it fewer or shorter host paths (--share)", n, proto.MaxWorkLine)
	}
	return nil
}

// workShare makes a guest's scratch directory (work) and the run's share
// in it (share), holding the archive of files the base lacks; b, marked
// as starting by start, removes them when closed.
func (g *guest) workShare(start string, base, files []initramfs.File) (b *booted, work, share string, err error) {
	work, cleanup, err := cache.HostScratch(g.target.Name).Make()
	if err != nil {
		return nil, "", "", err
	}
	b = &booted{cleanup: cleanup, Start: start}
	share = filepath.Join(work, "share")
	archive := filepath.Join(share, runArchive)
	if err = os.Mkdir(share, 0o755); err == nil {
		err = writeArchive(archive, without(files, base))
	}
	if err != nil {
		b.Close()
		return nil, "", "", err
	}
	if st, err := os.Stat(archive); err == nil {
		b.Initramfs = st.Size()
	}
	return b, work, share, nil
}

// bootStandby boots the saved guest's initramfs instead of restoring it,
// waits until its init is ready, and hands it the work as a restore
// would: the same guest, but for the boot.
func (g *guest) bootStandby(ctx context.Context, o *Options, kind string, base, files []initramfs.File, binds []proto.Bind) (*booted, error) {
	b, work, share, err := g.workShare(result.StartBooted, base, files)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*booted, error) {
		b.Close()
		return nil, err
	}
	initrd := filepath.Join(work, "standby.cpio")
	if err := writeArchive(initrd, base); err != nil {
		return fail(err)
	}
	accel, why := o.accel(g.arch)
	_, image := g.bootImage()
	b.Accel, b.BootImage = accel, image
	o.phase(g.target.Name, "booting ("+accel+")")
	o.logf("[%s] booting %s (%s: %s)", g.target.Name, g.kernel.Release, accel, why)
	spec := g.spec(o, accel, work, initrd, g.shares(kind, share), nil)
	spec.ExtraCmdline = o.ExtraCmdline
	b.Started = time.Now()
	inst, err := o.Backend.Start(ctx, spec)
	if err != nil {
		return fail(err)
	}
	b.Instance = inst
	m, ok := inst.(vm.Machine)
	if !ok {
		return fail(errors.New("the backend's guest cannot be handed work"))
	}
	dl := deadlines(g.target, g.arch, accel, o.TimeScale)
	lines := vm.LinesOf(m.Console())
	if _, err := awaitStandby(ctx, lines, m.Done(), dl.Boot, proto.StandbyReady, nil); err != nil {
		// The guest's own words decide what this was (a panic, a hang):
		// the watch reads them again, and the rest of the console.
		b.Instance = &consoleFrom{Instance: m, lines: lines}
		return b, nil
	}
	taken, err := g.handOver(ctx, m, o, lines, nil, binds)
	if err != nil {
		lines.Close()
		return fail(err)
	}
	b.Instance = taken
	return b, nil
}

// shares are the guest's 9p devices: the run's files, and for exec the
// host's root (read-only), whose paths a run binds. dir is the run's
// share ("" for a key).
func (g *guest) shares(kind, dir string) []qemu.Share {
	shares := []qemu.Share{{Tag: proto.ShareTag, Dir: dir}}
	if kind == "exec" {
		shares = append(shares, qemu.Share{Tag: proto.HostShareTag, Dir: "/"})
	}
	return shares
}

// awaitStandby reads console lines, holding each for the watch after
// it, until the standby init says want; each of its other words goes to
// word (when not nil). It fails when the init says it failed, the
// console ends, or timeout passes; said is then the console's last lines.
func awaitStandby(ctx context.Context, lines *vm.Lines, done <-chan struct{}, timeout time.Duration, want string, word func(string)) (said string, err error) {
	var tail []string
	lastWords := func() string {
		if len(tail) == 0 {
			return ""
		}
		return "; the console ended with:\n" + strings.Join(tail, "\n")
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-lines.C():
			if !ok {
				return lastWords(), fmt.Errorf("the console ended before the standby init was %s", want)
			}
			lines.Hold(l)
			if t := strings.TrimSpace(string(l)); t != "" {
				tail = append(tail, t)
				if len(tail) > 20 {
					tail = tail[1:]
				}
			}
			s, ok := proto.ParseStandby(string(l))
			switch {
			case !ok:
			case s == want:
				return "", nil
			case strings.HasPrefix(s, proto.StandbyFailed):
				return lastWords(), fmt.Errorf("the standby init failed: %s", strings.TrimPrefix(s, proto.StandbyFailed))
			case word != nil:
				word(s)
			}
		case <-done:
			// What QEMU printed last is still in the pipe: read on.
			done = nil
		case <-deadline.C:
			return lastWords(), fmt.Errorf("the guest did not say it was %s within %s", want, timeout)
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
}

// consoleFrom is an Instance whose console is being read already (Lines,
// holding what the standby's hand-over read): the watch reads on from
// there.
type consoleFrom struct {
	vm.Instance
	lines *vm.Lines
	// When QEMU was up, the guest resumed and the work taken; how long
	// the standby init's steps took.
	up, resumed, taken time.Time
	took               string
}

func (c *consoleFrom) Lines() *vm.Lines { return c.lines }

// Console is not to be read: Lines reads it already.
func (c *consoleFrom) Console() io.Reader {
	return iotest.ErrReader(errors.New("the console is read through Lines"))
}

// savedGuest is a kernel's saved guest in the cache.
type savedGuest struct {
	dir   string
	accel string
	// sum is what the manifest says the state's file holds.
	sum cache.FileSum
}

// savedState returns the target's saved guest, making it when the cache
// has none, or one made from anything else: another QEMU, machine,
// kernel or standby initramfs (the cache says which, removes it and makes
// it again).
func (g *guest) savedState(ctx context.Context, o *Options, kind string, files []initramfs.File) (*savedGuest, error) {
	var cpio bytes.Buffer
	if err := initramfs.WriteInitramfs(&cpio, files); err != nil {
		return nil, err
	}
	accel, _ := o.accel(g.arch)
	version, err := qemu.Version(ctx, g.arch)
	if err != nil {
		return nil, err
	}
	_, image := g.bootImage()
	spec := g.spec(o, accel, "", "", g.shares(kind, ""), nil)
	machine := qemu.Machine(qemu.Config{
		Arch: spec.Arch, Kernel: spec.Kernel, MemoryMB: spec.MemoryMB, CPUs: spec.CPUs, Accel: spec.Accel, Shares: spec.Shares,
	})
	// The kernel by its package's hash (or a local image's own): the
	// kernel's cache entry is checked against it, and its vmlinux is made
	// from it.
	from := fmt.Sprintf("saved %s guest v%d (work v%d) of %s %s sha256 %s (booted from its %s), initramfs %s, %s, machine: %s",
		kind, savedFormat, proto.StandbyVersion, g.kernel.Package, g.kernel.Version, g.kernel.SHA256, image,
		cache.Key(cpio.String()), version, machine)
	dir := o.Cache.Path("states", cache.Key(fmt.Sprintf("%s %s %s %s %d MB %d CPUs %s", kind, g.arch.Name, g.kernel.Package, g.kernel.SHA256,
		g.target.MemoryMB, max(g.cpus, 1), accel)))
	// The state is hashed while it is restored (restore), not before: it
	// is tens of MB. A manifest that says anything else makes it again.
	sums, err := o.Cache.Sums(dir, from)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			o.logf("[%s] %v: saving the guest again", g.target.Name, err)
			if rerr := o.Cache.Remove(dir); rerr != nil {
				return nil, rerr
			}
		}
		_, err = o.Cache.File(ctx, "state-"+filepath.Base(dir), dir, from, func(tmp string) (string, error) {
			return g.saveGuest(ctx, o, kind, accel, cpio.Bytes(), tmp)
		})
		if err == nil {
			sums, err = o.Cache.Sums(dir, from)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("saved guest: %w", err)
	}
	return &savedGuest{dir: dir, accel: accel, sum: sums[stateFile]}, nil
}

// saveGuest boots the standby initramfs, waits until its init is ready,
// lets the guest idle, and saves it into tmp/entry.
func (g *guest) saveGuest(ctx context.Context, o *Options, kind, accel string, cpio []byte, tmp string) (string, error) {
	start := time.Now()
	o.phase(g.target.Name, "saving a booted guest ("+accel+")")
	o.logf("[%s] booting %s once to save it (%s guest); later runs restore it", g.target.Name, g.kernel.Release, kind)
	initrd := filepath.Join(tmp, "standby.cpio")
	if err := os.WriteFile(initrd, cpio, 0o644); err != nil {
		return "", err
	}
	share := filepath.Join(tmp, "share")
	if err := os.Mkdir(share, 0o755); err != nil {
		return "", err
	}
	inst, err := o.Backend.Start(ctx, g.spec(o, accel, tmp, initrd, g.shares(kind, share), nil))
	if err != nil {
		return "", err
	}
	defer inst.Stop(time.Second)
	m, ok := inst.(vm.Machine)
	if !ok {
		return "", errors.New("the backend's guest cannot be saved")
	}
	dl := deadlines(g.target, g.arch, accel, o.TimeScale)
	lines := vm.LinesOf(m.Console())
	defer lines.Close()
	if said, err := awaitStandby(ctx, lines, m.Done(), dl.Boot, proto.StandbyReady, nil); err != nil {
		return "", fmt.Errorf("boot the guest to save: %w%s", err, said)
	}
	select {
	case <-time.After(standbyIdle):
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
	entry := filepath.Join(tmp, "entry")
	if err := os.Mkdir(entry, 0o755); err != nil {
		return "", err
	}
	out, err := os.Create(filepath.Join(entry, stateFile))
	if err != nil {
		return "", err
	}
	defer out.Close()
	if err := m.Save(ctx, out); err != nil {
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	st, _ := os.Stat(filepath.Join(entry, stateFile))
	o.logf("[%s] saved the booted guest in %s (%d MiB)", g.target.Name, time.Since(start).Round(time.Millisecond), st.Size()>>20)
	return entry, nil
}

// standbyFiles are the initramfs of the target's saved guest of kind:
// the layout's entries that are the same in every run of the kernel
// (baseSource: the guest's init, the kernel's config, nodes and
// directories), and the modules that bring the share up, with their
// order, which also tells the init to wait for work.
func (g *guest) standbyFiles(ctx context.Context, o *Options, kind string) ([]initramfs.File, error) {
	layouts, err := readLayouts(o.Builtin)
	if err != nil {
		return nil, err
	}
	files, err := layouts.Files(kind, g.kernel.Release, func(e initramfs.LayoutEntry, mode uint32) ([]initramfs.File, error) {
		files, _, err := g.baseSource(ctx, o, e, mode)
		return files, err
	})
	if err != nil {
		return nil, err
	}
	names, err := g.standbyModules()
	if err != nil {
		return nil, err
	}
	mods, err := o.Kernels.Modules(ctx, g.target, g.arch, g.kernel, names)
	if errors.Is(err, kernel.ErrNoModules) {
		return nil, fmt.Errorf("%w: the share's modules come from the kernel's package", err)
	}
	if err != nil {
		return nil, err
	}
	files = append(files, initramfs.File{Path: proto.ModulesOrder, Mode: 0o644, Data: []byte(strings.Join(mods.Order, "\n") + "\n")})
	for _, name := range mods.Order {
		data, err := os.ReadFile(mods.Path(name))
		if err != nil {
			return nil, err
		}
		files = append(files, initramfs.File{Path: proto.StandbyDir + "/" + name + ".ko", Mode: 0o644, Data: data})
	}
	return files, nil
}

// without is files less those base has by path: what a restored guest
// of base lacks. Directories base has are kept: they are cheap, and a
// run's may have another mode.
func without(files, base []initramfs.File) []initramfs.File {
	has := map[string]bool{}
	for _, f := range base {
		if !f.Dir {
			has[f.Path] = true
		}
	}
	var out []initramfs.File
	for _, f := range files {
		if !has[f.Path] {
			out = append(out, f)
		}
	}
	return out
}

// spec is the machine of the target's guests, booted (initrd) or restored
// (state).
func (g *guest) spec(o *Options, accel, dir, initrd string, shares []qemu.Share, state *os.File) vm.Spec {
	bootImage, _ := g.bootImage()
	return vm.Spec{
		Arch: g.arch, Kernel: bootImage, Initrd: initrd, MemoryMB: g.target.MemoryMB, CPUs: g.cpus, Accel: accel, Dir: dir,
		Shares: shares, State: state,
	}
}

// scaled is d scaled as the target's deadlines are.
func (g *guest) scaled(o *Options, d time.Duration) time.Duration {
	scale := g.arch.Slowdown
	if scale <= 0 {
		scale = 1
	}
	if o.TimeScale > 0 {
		scale *= o.TimeScale
	}
	return time.Duration(float64(d) * scale)
}
