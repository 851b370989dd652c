package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/run"
)

func cmdList(_ context.Context, args []string, s streams) error {
	fs := newFlagSet("list [flags]", `
Print the targets (cells) a run with the same --matrix, --only and --shard
would boot, with the kernel each asks for (the locked one when the matrix
has a lock; an Ubuntu kernel's suite reads "ubuntu focal-updates"), its
cases and its estimated cost (what shards are balanced by). Nothing is
fetched or booted. The default matrix names its Ubuntu targets
ARCH-ubuntu-VERSION: --only '*-ubuntu-*' picks them.`, s)
	var (
		matrixFile = fs.String("matrix", "", matrixUsage)
		only       = fs.String("only", "", "only targets whose name matches one of these comma-separated globs")
		shard      = fs.String("shard", "", "only shard K/N")
	)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	m, cat, targets, err := loadConfig(*matrixFile, *only, *shard)
	if err != nil {
		return err
	}
	lock, err := loadLock(m)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "TARGET\tARCH\tKERNEL\tWRAPPER\tCASES\tCOST\n")
	for _, t := range targets {
		a, _ := arch.Lookup(t.Arch)
		// Debian's kernels are named by suite alone; another distro's
		// start with its name.
		suite := t.Kernel.Suite
		if t.Kernel.Distro != matrix.DistroDebian {
			suite = t.Kernel.Distro + " " + suite
		}
		kernel := suite + " " + t.Kernel.Flavour + t.Kernel.Package
		switch {
		case t.Kernel.Local != nil:
			kernel = "local " + t.Kernel.Local.Vmlinuz
		case lock != nil:
			if lk, err := lock.Find(t.Name, run.KernelRef(t, a)); err == nil {
				kernel = suite + " " + lk.String() + " (locked)"
			} else {
				kernel += " (not locked: run ksystest lock)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d\t%.0f\n", t.Name, t.Arch, kernel, *t.SyscallWrapper, len(cat.For(a).Cases), run.Cost(t, cat))
	}
	return tw.Flush()
}
