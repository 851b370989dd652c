package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"text/tabwriter"

	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/run"
)

func cmdBench(ctx context.Context, args []string, s streams) error {
	fs := newFlagSet("bench [flags]", `
Measure each target's cost against the least any guest of its kernel
costs. For every target, one guest at a time, boot the kernel with the
same QEMU command line and a trivial /init that only powers off (the
floor), run the target's cell as ksystest run --fresh would (booted),
run it again restored from the kernel's saved guest (as ksystest run
does), and ksystest exec a static program that exits at once in a
restored guest, in turn, --runs times each (the saved guests are made
first, outside the measures); print per target the medians of floor and
cells (QEMU start to exit), their ratios to the floor, how soon exec
started the program (QEMU start to its execve, and from the ask), and
where the booted cell's time went. Then the whole selection: the sums
over the host's cores. Writes DIR/bench.json.`, s)
	var (
		only   = fs.String("only", "", "only targets whose name matches one of these comma-separated globs")
		runs   = fs.Int("runs", 3, "runs of the floor and of the cell per target")
		outDir = fs.String("out", "ksystest-bench", "output directory")
		gf     guestFlags
	)
	gf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *runs < 1 {
		return usageErr("--runs %d: want at least 1", *runs)
	}
	m, cat, targets, err := loadConfig(gf.matrixFile, *only, "")
	if err != nil {
		return err
	}
	progress := newUI(s, false)
	defer progress.close()
	logf := progress.logf
	b, err := gf.setup(m, cat, targets, progress, false)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "TARGET\tFLOOR\tBOOTED\tRATIO\tRESTORED\tRATIO\tEXEC\tASKED\t\tHOST\tQEMU→KERNEL\tKERNEL→AGENT\tBTF\tKALLSYMS\tSETUP\tLOAD\tATTACH\tCALLS\tREST\tPOWER-OFF\t\n")
	sec := func(v float64) string { return fmt.Sprintf("%.2fs", v) }
	o := b.withBPF().Options
	o.Logf = nil // a row per target says it all
	rows, err := run.Bench(ctx, run.BenchOptions{
		Options: o,
		Runs:    *runs,
		OnRow: func(r run.BenchRow) {
			if r.Error != "" {
				logf("[%s] not measured: %s", r.Target, r.Error)
				return
			}
			logf("[%s] floor %s, booted cell %s (%.2f×), restored cell %s (%.2f×), exec start %s", r.Target, sec(r.Floor), sec(r.Cell), r.Ratio,
				sec(r.Restored), r.RestoredRatio, sec(r.ExecStart))
		},
	})
	progress.close()
	var floors, cells, restored float64
	measured := 0
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t\t%s\t\t\t\t\t\t\t\t\t\t\t\n", r.Target, "not measured")
			continue
		}
		measured++
		floors += r.Floor
		cells += r.Cell
		restored += r.Restored
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f×\t%s\t%.2f×\t%s\t%s\t\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Target, sec(r.Floor),
			sec(r.Cell), r.Ratio, sec(r.Restored), r.RestoredRatio, sec(r.ExecStart), sec(r.ExecFirst),
			sec(r.Host), sec(r.QEMUToKern), sec(r.KernToAgent), sec(r.BTF), sec(r.Kallsyms), sec(r.Setup),
			sec(r.Load), sec(r.Attach), sec(r.Calls), sec(r.Rest), sec(r.PowerOff))
	}
	if measured > 0 {
		cores := float64(runtime.NumCPU())
		fmt.Fprintf(tw, "all %d\t%s\t%s\t%.2f×\t%s\t%.2f×\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", measured, sec(floors), sec(cells), cells/floors,
			sec(restored), restored/floors)
		fmt.Fprintf(tw, "÷ %d cores\t%s\t%s\t\t%s\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", int(cores), sec(floors/cores), sec(cells/cores), sec(restored/cores))
	}
	tw.Flush()
	fmt.Fprintf(s.out, "(medians of %d runs, QEMU start to exit; floor: the same kernel and QEMU command line with an /init that only powers off; "+
		"BOOTED: the cell booted (run --fresh); RESTORED: the cell restored from the kernel's saved guest; EXEC: QEMU start to the execve of a "+
		"static program that exits at once, in a restored exec guest, ASKED: the same from when exec was asked; "+
		"HOST is before QEMU starts and not in BOOTED; QEMU→KERNEL to POWER-OFF, of the booted cell, add up to BOOTED: SETUP is the agent's work "+
		"before its first case besides BTF and KALLSYMS (objects, maps, the oracle), LOAD and ATTACH are in the case loop, CALLS the rest of it, "+
		"REST the events' way to the host)\n", *runs)
	data, _ := json.MarshalIndent(rows, "", "  ")
	if werr := cache.WriteFileAtomic(filepath.Join(*outDir, "bench.json"), append(data, '\n'), 0o644); werr != nil {
		return &exitError{code: exitInfra, err: werr}
	}
	if err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	for _, r := range rows {
		if r.Error != "" {
			return &exitError{code: exitInfra, err: fmt.Errorf("%s could not be measured: %s", r.Target, r.Error)}
		}
	}
	return nil
}
