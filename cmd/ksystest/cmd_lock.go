package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/kernel"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/run"
)

func cmdLock(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("lock [flags]", `
Pin the exact kernel each target of the matrix boots, Debian's or
Ubuntu's (with the modules package its config comes from): write the
lock file the matrix names (lock: images/kernels.lock) from the suites'
signed indexes. Targets the lock already has, for the kernel they ask
for, keep theirs; --update moves every target to what the archive has
now; --check writes nothing and exits 1 when the lock is not what the
archive has now. Prints old → new per target. Local kernels are not
locked.`, s)
	var (
		matrixFile = fs.String("matrix", "", matrixUsage)
		update     = fs.Bool("update", false, "lock every target to what the archive has now")
		check      = fs.Bool("check", false, "write nothing; exit 1 when the archive has moved on from the lock")
		af         archiveFlags
	)
	af.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *update && *check {
		return usageErr("--update writes the lock, --check does not: give one")
	}
	m, err := loadMatrix(*matrixFile)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	lf, ok := m.LockFile()
	if !ok {
		return usageErr("%s names no lock file: add lock: images/kernels.lock to pin its kernels", m.File)
	}
	if lf.Disk == "" && !*check {
		return usageErr("%s pins its targets by %s, carried in ksystest itself: "+
			"to pin them yourself, add lock: kernels.lock to %s and run ksystest lock", m.File, lf.Name, m.File)
	}
	old, err := readLock(lf)
	if errors.Is(err, os.ErrNotExist) {
		old, err = &kernel.Lock{File: lf.Disk}, nil
	}
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	var targets []kernel.LockTarget
	for _, t := range m.Targets.List {
		if a, err := arch.Lookup(t.Arch); err == nil && t.Kernel.Local == nil {
			targets = append(targets, kernel.LockTarget{Name: t.Name, Ref: run.KernelRef(t, a)})
		}
	}

	progress := newUI(s, false)
	defer progress.close()
	fetcher, err := af.fetcher(progress.logf)
	if err != nil {
		return err
	}
	fetcher.OnDownload = progress.download
	lock, changes, err := kernel.Archive{Fetcher: fetcher}.LockKernels(ctx, old, targets, *update || *check)
	progress.close()
	if errors.Is(err, archive.ErrNoPackage) {
		return &exitError{code: exitUsage, err: err} // the matrix asks for a kernel the suite lacks
	}
	if err != nil {
		return &exitError{code: exitInfra, err: err}
	}

	// In matrix order, local kernels included, then the targets the
	// matrix no longer has.
	unprinted := map[string]kernel.LockChange{}
	changed := 0
	for _, c := range changes {
		unprinted[c.Target] = c
		if c.Changed() {
			changed++
		}
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	for _, t := range m.Targets.List {
		if t.Kernel.Local != nil {
			fmt.Fprintf(tw, "%s\tlocal kernel: not locked\n", t.Name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", t.Name, unprinted[t.Name])
		delete(unprinted, t.Name)
	}
	for _, c := range changes {
		if _, removed := unprinted[c.Target]; removed {
			fmt.Fprintf(tw, "%s\t%s\n", c.Target, c)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if *check {
		if changed > 0 {
			return &exitError{code: exitFindings, err: fmt.Errorf("%s: the archive has moved on for %d of %d targets: run ksystest lock --update",
				lock.File, changed, len(changes))}
		}
		fmt.Fprintf(s.err, "%s: every kernel is what the archive has now\n", lock.File)
		return nil
	}
	if err := lock.Write(); err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	fmt.Fprintf(s.err, "wrote %s: %d kernels, %d changed\n", lock.File, len(lock.Kernels), changed)
	return nil
}

// loadLock reads the kernel lock m names; nil when it names none. A lock
// that is missing or wrong is a config error, found before anything is
// fetched.
func loadLock(m *matrix.Matrix) (*kernel.Lock, error) {
	lf, ok := m.LockFile()
	if !ok {
		return nil, nil
	}
	lock, err := readLock(lf)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usageErr("%s names the kernel lock %s, which does not exist: run ksystest lock to write it", m.File, lf.Name)
	}
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return lock, nil
}

// readLock reads a lock from disk or from ksystest's own files.
func readLock(lf matrix.LockFile) (*kernel.Lock, error) {
	data, err := lf.Read()
	if err != nil {
		return nil, err
	}
	return kernel.ParseLock(lf.Name, data)
}
