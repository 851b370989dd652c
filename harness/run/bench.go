package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/vm"
)

// BenchRow is one target measured: its boot floor, its cell booted and
// its cell restored from the kernel's saved guest side by side, medians
// of the runs, in seconds, QEMU start to exit; where the booted cell's
// time went; and how soon ksystest exec starts a static program in a
// restored guest.
type BenchRow struct {
	Target string  `json:"target"`
	Floor  float64 `json:"floor_sec"`
	Cell   float64 `json:"cell_sec"`
	Ratio  float64 `json:"ratio"`
	// Restored is the cell restored instead of booted; RestoredRatio
	// Restored ÷ Floor.
	Restored      float64 `json:"restored_sec"`
	RestoredRatio float64 `json:"restored_ratio"`
	// ExecStart is QEMU's start to a static program's execve in a
	// restored exec guest; ExecFirst the same from when exec was asked
	// (the host's preparation included).
	ExecStart float64 `json:"exec_start_sec"`
	ExecFirst float64 `json:"exec_first_instruction_sec"`
	// Phases of the cell (medians), which add up to it: QEMU start to
	// the kernel's first tick, the kernel's boot to the agent; in the
	// agent, before its first case: reading BTF, reading kallsyms, the
	// rest of its set-up (the catalogue, parsing the objects, the maps,
	// the oracle's load and attach); in the case loop: loading programs,
	// attaching and detaching, the calls and their checks; the agent's
	// events reaching the host (Rest); power-off. Host is the host's
	// work before QEMU starts, not part of the cell.
	Host        float64 `json:"host_sec"`
	QEMUToKern  float64 `json:"qemu_to_kernel_sec"`
	KernToAgent float64 `json:"kernel_to_agent_sec"`
	BTF         float64 `json:"btf_sec"`
	Kallsyms    float64 `json:"kallsyms_sec"`
	Setup       float64 `json:"setup_sec"`
	Load        float64 `json:"load_sec"`
	Attach      float64 `json:"attach_sec"`
	Calls       float64 `json:"calls_sec"`
	Rest        float64 `json:"rest_sec"`
	PowerOff    float64 `json:"power_off_sec"`
	Runs        int     `json:"runs"`
	// Error says why the target could not be measured.
	Error string `json:"error,omitempty"`
}

// BenchOptions configure Bench.
type BenchOptions struct {
	Options
	// Runs per target, of the floor, the booted cell, the restored cell
	// and the exec each, in turn.
	Runs int
	// OnRow sees each target's row as soon as it is measured.
	OnRow func(BenchRow)
}

// Bench measures, one guest at a time, each target's boot floor (Floor),
// its cell booted (a run of the target alone, its cases as o's catalogue
// says, --fresh) and restored, and an exec of a program that exits at
// once in a restored guest, in turn, Runs times each, and returns a row
// per target with the medians. The saved guests are made (or checked)
// first, outside the measures.
func Bench(ctx context.Context, o BenchOptions) ([]BenchRow, error) {
	if o.Runs < 1 {
		o.Runs = 3
	}
	var rows []BenchRow
	for _, t := range o.Targets {
		row := BenchRow{Target: t.Name, Runs: o.Runs}
		var floors []float64
		var cells, restored []result.Timings
		var execs []ExecTimings
		fresh, warm := o.Options, o.Options
		fresh.Fresh, warm.Fresh = true, false
		_, err := benchCell(ctx, warm, t, result.StartRestored)
		if err == nil {
			_, err = benchExec(ctx, warm, t)
		}
		if err != nil {
			row.Error = err.Error()
		}
		for i := 0; i < o.Runs && row.Error == ""; i++ {
			if err := ctx.Err(); err != nil {
				return rows, err
			}
			f, err := Floor(ctx, o.Options, t)
			if err != nil {
				row.Error = err.Error()
				break
			}
			floors = append(floors, f.Seconds())
			tm, err := benchCell(ctx, fresh, t, result.StartBooted)
			if err != nil {
				row.Error = err.Error()
				break
			}
			cells = append(cells, tm)
			if tm, err = benchCell(ctx, warm, t, result.StartRestored); err != nil {
				row.Error = err.Error()
				break
			}
			restored = append(restored, tm)
			et, err := benchExec(ctx, warm, t)
			if err != nil {
				row.Error = err.Error()
				break
			}
			execs = append(execs, et)
		}
		if row.Error == "" {
			row.fill(floors, cells, restored, execs)
		}
		rows = append(rows, row)
		if o.OnRow != nil {
			o.OnRow(row)
		}
	}
	return rows, nil
}

// benchExec runs a program that exits at once on target t with ksystest
// exec, in a restored guest, and returns its timings.
func benchExec(ctx context.Context, o Options, t matrix.Target) (ExecTimings, error) {
	a, err := arch.Lookup(t.Arch)
	if err != nil {
		return ExecTimings{}, err
	}
	if o.Workloads == nil {
		return ExecTimings{}, errors.New("bench: no way to build the program exec runs")
	}
	prog, err := o.Workloads.Program(ctx, "true", a)
	if err != nil {
		return ExecTimings{}, err
	}
	o.OnPhase = nil
	res, err := Exec(ctx, ExecOptions{Options: o, Target: t, Program: prog, Args: []string{"true"}, Timeout: time.Minute})
	if err != nil {
		return ExecTimings{}, err
	}
	switch {
	case res.Outcome != vm.ExecExited || res.Exit.Code != 0:
		return ExecTimings{}, fmt.Errorf("%s: exec of a program that exits 0: %s (status %d) %s", t.Name, res.Outcome, res.Exit.Code, res.Reason)
	case res.Start != result.StartRestored:
		return ExecTimings{}, fmt.Errorf("%s: exec: the guest was booted, not restored: %s", t.Name, res.StartNote)
	}
	return res.Timings, nil
}

// benchCell runs target t alone and returns its timings; a cell that does
// not pass measures nothing worth comparing.
func benchCell(ctx context.Context, o Options, t matrix.Target, how string) (result.Timings, error) {
	out, err := os.MkdirTemp("", "ksystest-bench-")
	if err != nil {
		return result.Timings{}, err
	}
	defer os.RemoveAll(out)
	o.Targets, o.Jobs, o.OutDir, o.Shard = []matrix.Target{t}, 1, out, ""
	o.OnPhase = nil
	start := time.Now()
	res, err := Run(ctx, o)
	if err != nil {
		return result.Timings{}, err
	}
	c := res.Cells[0]
	if c.Outcome != result.OutcomePass {
		return result.Timings{}, fmt.Errorf("%s: the cell's outcome is %s (%s), not pass: nothing to measure", t.Name, c.Outcome, c.Reason)
	}
	if c.Start != how {
		return result.Timings{}, fmt.Errorf("%s: the cell was %s, not %s: %s", t.Name, c.Start, how, c.StartNote)
	}
	if c.Timings.HostSec == 0 {
		c.Timings.HostSec = time.Since(start).Seconds() - c.Timings.ExitSec
	}
	return c.Timings, nil
}

func (r *BenchRow) fill(floors []float64, cells, restored []result.Timings, execs []ExecTimings) {
	pick := func(f func(result.Timings) float64) float64 {
		var vs []float64
		for _, c := range cells {
			vs = append(vs, f(c))
		}
		return median(vs)
	}
	ms := func(v int64) float64 { return float64(v) / 1000 }
	r.Floor = median(floors)
	r.Cell = pick(func(t result.Timings) float64 { return t.ExitSec })
	var vs []float64
	for _, c := range restored {
		vs = append(vs, c.ExitSec)
	}
	r.Restored = median(vs)
	vs = nil
	for _, e := range execs {
		vs = append(vs, e.Boot.Seconds())
	}
	r.ExecStart = median(vs)
	vs = nil
	for _, e := range execs {
		vs = append(vs, e.FirstInstruction.Seconds())
	}
	r.ExecFirst = median(vs)
	if r.Floor > 0 {
		r.Ratio = r.Cell / r.Floor
		r.RestoredRatio = r.Restored / r.Floor
	}
	r.Host = pick(func(t result.Timings) float64 { return t.HostSec })
	r.QEMUToKern = pick(func(t result.Timings) float64 { return max(0, t.AgentStartSec-t.GuestUptimeSec) })
	r.KernToAgent = pick(func(t result.Timings) float64 { return t.GuestUptimeSec })
	r.BTF = pick(func(t result.Timings) float64 { return ms(t.BTFMS) })
	r.Kallsyms = pick(func(t result.Timings) float64 { return ms(t.KallsymsMS) })
	r.Setup = pick(func(t result.Timings) float64 { return max(0, ms(t.SetupMS)-ms(t.BTFMS)-ms(t.KallsymsMS)) })
	// The case loop holds the programs' loads (lazy) and the attaches.
	r.Load = pick(func(t result.Timings) float64 { return ms(t.CaseLoadMS) })
	r.Attach = pick(func(t result.Timings) float64 { return ms(t.AttachMS) })
	r.Calls = pick(func(t result.Timings) float64 { return max(0, ms(t.CasesMS)-ms(t.CaseLoadMS)-ms(t.AttachMS)) })
	r.Rest = pick(func(t result.Timings) float64 {
		return max(0, t.DoneSec-t.AgentStartSec-ms(t.SetupMS)-ms(t.CasesMS))
	})
	r.PowerOff = pick(func(t result.Timings) float64 { return max(0, t.ExitSec-t.DoneSec) })
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
