package kernel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/goccy/go-yaml"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/internal/yamlfile"
)

// Lock pins the exact kernel each target of a matrix boots, Debian's or
// Ubuntu's, as the suite's signed index listed it when the lock was made:
// a matrix's images/kernels.lock, committed beside it, so that a run next
// month boots what this one did. The archive keeps the last word: where its
// index still lists a locked package at the locked version, the hashes
// must agree.
type Lock struct {
	APIVersion string         `yaml:"apiVersion"`
	Kernels    []LockedKernel `yaml:"kernels"`
	// File is where the lock is read from and written to; messages name
	// it.
	File string `yaml:"-"`
}

// LockedKernel is one target's kernel. Distro, Suite, Arch and Flavour
// say what the target asked for when it was locked, so a lock its matrix
// has moved away from is noticed.
type LockedKernel struct {
	Target string `yaml:"target"`
	// Distro is whose archive: debian or ubuntu (a lock without says
	// debian).
	Distro string `yaml:"distro"`
	Suite  string `yaml:"suite"`
	Arch   string `yaml:"arch"` // Debian's: amd64, armhf, ...
	// Flavour is the flavour the target follows (linux-image-FLAVOUR
	// pointed at Package when locked); empty when it names Package.
	Flavour string `yaml:"flavour,omitempty"`
	// The image package.
	LockedPackage `yaml:",inline"`
	// Modules is the package the kernel's config comes from where the
	// image package lacks it (Ubuntu's linux-modules-RELEASE).
	Modules *LockedPackage `yaml:"modules,omitempty"`
}

// LockedPackage is a package as the index listed it when locked.
type LockedPackage struct {
	Package string `yaml:"package"`
	Version string `yaml:"version"`
	// Filename is the .deb's path in the archive, as the index gives it
	// (pool/main/l/...): where it is fetched from once the index no longer
	// lists it.
	Filename string `yaml:"filename"`
	Size     int64  `yaml:"size"`
	SHA256   string `yaml:"sha256"`
}

func lockedPackage(p archive.Package) LockedPackage {
	return LockedPackage{Package: p.Name, Version: p.Version, Filename: p.Filename, Size: p.Size, SHA256: p.SHA256}
}

func (lp LockedPackage) String() string { return lp.Package + " " + lp.Version }

// pkg is the locked package as the index listed it.
func (lp LockedPackage) pkg(debArch string) archive.Package {
	return archive.Package{Name: lp.Package, Version: lp.Version, Arch: debArch, Filename: lp.Filename, SHA256: lp.SHA256, Size: lp.Size}
}

// equal reports whether two entries lock the same, modules included.
func (lk LockedKernel) equal(o LockedKernel) bool {
	a, b := lk, o
	a.Modules, b.Modules = nil, nil
	if a != b || (lk.Modules == nil) != (o.Modules == nil) {
		return false
	}
	return lk.Modules == nil || *lk.Modules == *o.Modules
}

// matches reports whether lk was locked for what ref asks.
func (lk LockedKernel) matches(ref Ref) bool {
	if distroName(lk.Distro) != distroName(ref.Distro) || lk.Suite != ref.Suite || lk.Arch != ref.DebArch {
		return false
	}
	if ref.Package != "" {
		return lk.Flavour == "" && lk.Package == ref.Package
	}
	return lk.Flavour == ref.Flavour
}

// asked says what the target asked for when lk was locked, as Ref's
// String does.
func (lk LockedKernel) asked() string {
	ref := Ref{Distro: lk.Distro, Suite: lk.Suite, DebArch: lk.Arch, Flavour: lk.Flavour}
	if lk.Flavour == "" {
		ref.Flavour, ref.Package = "", lk.Package
	}
	return ref.String()
}

// ReadLock reads a lock file strictly: an unknown key, a wrong type or a
// value that is not a plain Debian name is an error naming file and line.
func ReadLock(file string) (*Lock, error) {
	data, err := yamlfile.Read(os.DirFS(filepath.Dir(file)), filepath.Base(file))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ParseLock(file, data)
}

// ParseLock reads a lock from data as ReadLock does; file names it in
// messages and is where Write writes it.
func ParseLock(file string, data []byte) (*Lock, error) {
	l := &Lock{File: file}
	if err := yamlfile.Load(file, data, l, l.validate); err != nil {
		return nil, err
	}
	// Locks written before ksystest took Ubuntu's kernels name no distro.
	for i := range l.Kernels {
		l.Kernels[i].Distro = distroName(l.Kernels[i].Distro)
	}
	return l, nil
}

func (l *Lock) validate() []yamlfile.Problem {
	var ps []yamlfile.Problem
	if l.APIVersion != yamlfile.APIVersion {
		ps = append(ps, yamlfile.Problemf("apiVersion", "is %q, want %q", l.APIVersion, yamlfile.APIVersion))
	}
	seen := map[string]int{}
	for i, k := range l.Kernels {
		p := fmt.Sprintf("kernels[%d]", i)
		check := func(key, value string, plain func(string) error) {
			if value == "" {
				ps = append(ps, yamlfile.Problemf(p+"."+key, "missing"))
			} else if err := plain(value); err != nil {
				ps = append(ps, yamlfile.Problemf(p+"."+key, "%v", err))
			}
		}
		if j, dup := seen[k.Target]; dup {
			ps = append(ps, yamlfile.Problemf(p+".target", "%q is locked already by kernels[%d]", k.Target, j))
		}
		seen[k.Target] = i
		if k.Target == "" {
			ps = append(ps, yamlfile.Problemf(p+".target", "missing: the matrix target this kernel is for"))
		}
		if k.Distro != "" {
			if _, err := archive.DistroNamed(k.Distro); err != nil {
				ps = append(ps, yamlfile.Problemf(p+".distro", "%v", err))
			}
		}
		check("suite", k.Suite, archive.CheckSuite)
		check("arch", k.Arch, archive.CheckArch)
		if k.Flavour != "" {
			check("flavour", k.Flavour, func(f string) error { return archive.CheckPackage("linux-image-" + f) })
		}
		ps = append(ps, k.LockedPackage.validate(p)...)
		if k.Modules != nil {
			ps = append(ps, k.Modules.validate(p+".modules")...)
		}
	}
	return ps
}

func (lp LockedPackage) validate(p string) []yamlfile.Problem {
	var ps []yamlfile.Problem
	check := func(key, value string, plain func(string) error) {
		if value == "" {
			ps = append(ps, yamlfile.Problemf(p+"."+key, "missing"))
		} else if err := plain(value); err != nil {
			ps = append(ps, yamlfile.Problemf(p+"."+key, "%v", err))
		}
	}
	check("package", lp.Package, archive.CheckPackage)
	check("version", lp.Version, archive.CheckVersion)
	check("filename", lp.Filename, func(f string) error { return archive.CheckRelPath("filename", f) })
	if lp.Size <= 0 {
		ps = append(ps, yamlfile.Problemf(p+".size", "%d: want the .deb's size in bytes", lp.Size))
	}
	check("sha256", lp.SHA256, archive.CheckSHA256)
	return ps
}

// lockHeader opens every lock file written.
const lockHeader = `# The exact kernel each target of the matrix boots, from Debian's archive
# or Ubuntu's, as the suite's signed index listed it when locked (an
# Ubuntu kernel's config comes from its modules package, locked with it).
# Written by ksystest lock: do not edit.
# ksystest lock --update moves it to what the archive has now, and
# ksystest lock --check says whether the archive has moved on.
`

// Write writes the lock to l.File, atomically.
func (l *Lock) Write() error {
	data, err := l.encode()
	if err != nil {
		return fmt.Errorf("write %s: %w", l.File, err)
	}
	if err := cache.WriteFileAtomic(l.File, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", l.File, err)
	}
	return nil
}

// encode is the lock file's text.
func (l *Lock) encode() ([]byte, error) {
	data, err := yaml.MarshalWithOptions(l, yaml.IndentSequence(true))
	if err != nil {
		return nil, err
	}
	return append([]byte(lockHeader), data...), nil
}

func (l *Lock) entry(target string) (LockedKernel, bool) {
	if l == nil {
		return LockedKernel{}, false
	}
	for _, k := range l.Kernels {
		if k.Target == target {
			return k, true
		}
	}
	return LockedKernel{}, false
}

// Find returns the kernel the lock pins for target, which must have been
// locked for what ref asks now.
func (l *Lock) Find(target string, ref Ref) (LockedKernel, error) {
	lk, ok := l.entry(target)
	if !ok {
		return lk, lockErrorf("%s is not in %s: run ksystest lock to lock its kernel", target, l.File)
	}
	if !lk.matches(ref) {
		return lk, lockErrorf("%s: %s locks %s for %s, but the matrix asks for %s: run ksystest lock to lock it again",
			target, l.File, lk, lk.asked(), ref)
	}
	return lk, nil
}

// ErrLock marks the errors that say a kernel lock does not hold: it
// disagrees with the signed index, names a kernel the archive no longer
// has, or was made for another target. The lock is wrong, not the host nor
// the kernel: a run reports these as configuration errors.
var ErrLock = errors.New("the kernel lock does not hold")

type lockError struct{ msg string }

func lockErrorf(format string, args ...any) error {
	return &lockError{msg: fmt.Sprintf(format, args...)}
}

func (e *lockError) Error() string        { return e.msg }
func (e *lockError) Is(target error) bool { return target == ErrLock }

// LockMismatchError says the signed index lists a locked package at its
// locked version with another SHA256 or size than the lock: the lock was
// edited, or the archive rebuilt the package. The kernel is refused.
type LockMismatchError struct {
	Lock, Target, Suite string
	Package, Version    string
	Locked, Index       cache.FileSum
}

func (e *LockMismatchError) Error() string {
	locked, index := "sha256 "+e.Locked.SHA256, "sha256 "+e.Index.SHA256
	if e.Locked.Size != e.Index.Size {
		locked += fmt.Sprintf(" (%d bytes)", e.Locked.Size)
		index += fmt.Sprintf(" (%d bytes)", e.Index.Size)
	}
	return fmt.Sprintf("%s: refusing %s %s: %s locks %s, but %s's signed index lists %s: "+
		"the lock was edited, or the archive rebuilt the package; run ksystest lock --update to lock what the archive has",
		e.Target, e.Package, e.Version, e.Lock, locked, e.Suite, index)
}

func (e *LockMismatchError) Is(target error) bool { return target == ErrLock }

// LockedKernel returns the kernel lock pins for target, and nothing else.
// Where the signed index lists a locked package (the image, and the
// modules package where there is one) at the locked version, its SHA256
// and size must be the lock's (else a LockMismatchError); where it lists
// the locked SHA256 for another package or version, the lock was edited
// too. Where the archive has moved on, the kernel comes from the cache,
// which keys kernels by the .debs' SHA256, else from their pool files,
// which the archive keeps a while after the index drops them, verified
// against the lock.
func (f Archive) LockedKernel(ctx context.Context, lock *Lock, target string, ref Ref) (*Kernel, error) {
	if err := ref.check(); err != nil {
		return nil, err
	}
	lk, err := lock.Find(target, ref)
	if err != nil {
		return nil, err
	}
	if f, err = f.of(ref); err != nil {
		return nil, err
	}
	image, imageListed, err := f.lockedPackage(ctx, lock, target, lk, lk.LockedPackage, "linux-image-")
	if err != nil {
		return nil, err
	}
	p, inIndex := Packages{Image: image}, imageListed
	if lk.Modules != nil {
		m, listed, err := f.lockedPackage(ctx, lock, target, lk, *lk.Modules, modulesPrefix)
		if err != nil {
			return nil, err
		}
		p.Modules, inIndex = &m, inIndex && listed
	}
	if !imageListed {
		now := "no kernel for it"
		if current, err := f.Resolve(ctx, ref); err == nil {
			now = current.Image.Name + " " + current.Image.Version
		}
		f.Log("%s: %s's index has moved on to %s; booting the locked %s (ksystest lock --update moves the lock)", target, lk.Suite, now, lk)
	}
	k, err := f.kernel(ctx, ref, p)
	var status *archive.StatusError
	var hash *cache.HashMismatchError
	switch {
	case inIndex || err == nil:
	case errors.As(err, &status) && status.Code == http.StatusNotFound:
		return nil, lockErrorf("%s (locked in %s) is no longer in %s's index nor in the pool, and not in the cache: run ksystest lock --update",
			lk, lock.File, lk.Suite)
	case errors.As(err, &hash):
		// Nothing signed says which is wrong, the lock or the mirror.
		return nil, fmt.Errorf("%s is no longer in %s's index, and its pool file is not what %s locks: %w", lk, lk.Suite, lock.File, err)
	}
	return k, err
}

// lockedPackage is lp, one of the packages lk locks, as the index (of
// the packages whose names start with prefix) lists it, and whether it
// does; where it does not, as the lock records it.
func (f Archive) lockedPackage(ctx context.Context, lock *Lock, target string, lk LockedKernel, lp LockedPackage, prefix string) (archive.Package, bool, error) {
	pkgs, err := f.Packages(ctx, lk.Suite, lk.Arch, prefix)
	if err != nil {
		return archive.Package{}, false, err
	}
	listed, err := archive.FindPackage(pkgs, lp.Package)
	if err == nil && listed.Version == lp.Version {
		if listed.SHA256 != lp.SHA256 || listed.Size != lp.Size {
			return archive.Package{}, false, &LockMismatchError{
				Lock: lock.File, Target: target, Suite: lk.Suite, Package: lp.Package, Version: lp.Version,
				Locked: cache.FileSum{SHA256: lp.SHA256, Size: lp.Size}, Index: cache.FileSum{SHA256: listed.SHA256, Size: listed.Size},
			}
		}
		return listed, true, nil // the index's pool path, while it lists the package
	}
	// A .deb is named by its hash: one the index lists under another
	// name or version is not the locked package.
	for _, other := range pkgs {
		if other.SHA256 == lp.SHA256 {
			return archive.Package{}, false, lockErrorf("%s: %s locks %s, but %s's signed index lists its sha256 for %s %s: the lock was edited; "+
				"run ksystest lock --update to lock what the archive has", target, lock.File, lp, lk.Suite, other.Name, other.Version)
		}
	}
	return lp.pkg(lk.Arch), false, nil
}

// LockTarget is a target to lock: its name and the kernel it asks for.
type LockTarget struct {
	Name string
	Ref  Ref
}

// LockChange is what locking did to one target's entry: Old is nil for a
// target locked for the first time, New for one no longer in the matrix.
type LockChange struct {
	Target   string
	Old, New *LockedKernel
}

// Changed reports whether the entry is not what it was.
func (c LockChange) Changed() bool { return c.Old == nil || c.New == nil || !c.Old.equal(*c.New) }

// String says old → new in packages and versions, or "unchanged".
func (c LockChange) String() string {
	switch {
	case c.Old == nil:
		return "not locked → " + c.New.String()
	case c.New == nil:
		return c.Old.String() + " → removed (no such target)"
	case !c.Changed():
		return c.Old.String() + " unchanged"
	case c.Old.String() != c.New.String():
		return c.Old.String() + " → " + c.New.String()
	case c.Old.SHA256 != c.New.SHA256:
		return fmt.Sprintf("%s: sha256 %s → %s", c.Old, c.Old.SHA256, c.New.SHA256)
	case c.Old.asked() != c.New.asked():
		return fmt.Sprintf("%s: locked for %s → %s", c.Old, c.Old.asked(), c.New.asked())
	case c.Old.Modules == nil || c.New.Modules == nil || *c.Old.Modules != *c.New.Modules:
		return fmt.Sprintf("%s: modules %s → %s", c.Old, modulesOf(c.Old), modulesOf(c.New))
	}
	return fmt.Sprintf("%s: filename and size as the index lists them", c.Old)
}

// modulesOf names lk's modules package, with its hash.
func modulesOf(lk *LockedKernel) string {
	if lk.Modules == nil {
		return "none"
	}
	return lk.Modules.String() + " sha256 " + lk.Modules.SHA256
}

// LockKernels locks the kernel of each target as the archive lists it
// now. Without update, a target old locks for what it asks keeps its
// entry: only new targets and targets that ask for another kernel are
// looked up. The new lock keeps old's File and holds targets only, in
// their order; the changes list every target, then those old has and
// targets no longer do.
func (f Archive) LockKernels(ctx context.Context, old *Lock, targets []LockTarget, update bool) (*Lock, []LockChange, error) {
	out := &Lock{APIVersion: yamlfile.APIVersion}
	if old != nil {
		out.File = old.File
	}
	var changes []LockChange
	seen := map[string]bool{}
	for _, t := range targets {
		seen[t.Name] = true
		prev, had := old.entry(t.Name)
		now := prev
		if update || !had || !prev.matches(t.Ref) {
			p, err := f.Resolve(ctx, t.Ref)
			if err != nil {
				return nil, nil, fmt.Errorf("lock %s: %w", t.Name, err)
			}
			now = LockedKernel{Target: t.Name, Distro: distroName(t.Ref.Distro), Suite: t.Ref.Suite, Arch: t.Ref.DebArch,
				LockedPackage: lockedPackage(p.Image)}
			if p.Modules != nil {
				m := lockedPackage(*p.Modules)
				now.Modules = &m
			}
			if t.Ref.Package == "" {
				now.Flavour = t.Ref.Flavour
			}
		}
		out.Kernels = append(out.Kernels, now)
		c := LockChange{Target: t.Name, New: &now}
		if had {
			c.Old = &prev
		}
		changes = append(changes, c)
	}
	if old != nil {
		for i, k := range old.Kernels {
			if !seen[k.Target] {
				changes = append(changes, LockChange{Target: k.Target, Old: &old.Kernels[i]})
			}
		}
	}
	return out, changes, nil
}
