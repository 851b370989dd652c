package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/run"
)

func cmdList(_ context.Context, args []string, s streams) error {
	fs := newFlagSet("list [flags]", `
Print the targets (cells) a run with the same --matrix, --only and --shard
would boot, with the kernel each asks for, its cases and its estimated
cost (what shards are balanced by). Nothing is fetched or booted.`, s)
	var (
		matrixFile = fs.String("matrix", "", matrixUsage)
		only       = fs.String("only", "", "only targets whose name matches this glob")
		shard      = fs.String("shard", "", "only shard K/N")
	)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	_, cat, targets, err := loadConfig(*matrixFile, *only, *shard)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "TARGET\tARCH\tKERNEL\tWRAPPER\tCASES\tCOST\n")
	for _, t := range targets {
		kernel := t.Kernel.Suite + " " + t.Kernel.Flavour + t.Kernel.Package
		if t.Kernel.Local != nil {
			kernel = "local " + t.Kernel.Local.Vmlinuz
		}
		a, _ := arch.Lookup(t.Arch)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d\t%.0f\n", t.Name, t.Arch, kernel, *t.SyscallWrapper, len(cat.For(a).Cases), run.Cost(t, cat))
	}
	return tw.Flush()
}
