package run

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/result"
)

// BenchRow is one target measured: its boot floor and its cell side by
// side, medians of the runs, in seconds, QEMU start to exit; and where
// the cell's time went.
type BenchRow struct {
	Target string  `json:"target"`
	Floor  float64 `json:"floor_sec"`
	Cell   float64 `json:"cell_sec"`
	Ratio  float64 `json:"ratio"`
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
	// Runs per target, of the floor and of the cell each, alternately.
	Runs int
	// OnRow sees each target's row as soon as it is measured.
	OnRow func(BenchRow)
}

// Bench measures, one guest at a time, each target's boot floor (Floor)
// and its cell (a run of the target alone, its cases as o's catalogue
// says), alternately, Runs times each, and returns a row per target with
// the medians.
func Bench(ctx context.Context, o BenchOptions) ([]BenchRow, error) {
	if o.Runs < 1 {
		o.Runs = 3
	}
	var rows []BenchRow
	for _, t := range o.Targets {
		row := BenchRow{Target: t.Name, Runs: o.Runs}
		var floors []float64
		var cells []result.Timings
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
			tm, err := benchCell(ctx, o.Options, t)
			if err != nil {
				row.Error = err.Error()
				break
			}
			cells = append(cells, tm)
		}
		if row.Error == "" {
			row.fill(floors, cells)
		}
		rows = append(rows, row)
		if o.OnRow != nil {
			o.OnRow(row)
		}
	}
	return rows, nil
}

// benchCell runs target t alone and returns its timings; a cell that does
// not pass measures nothing worth comparing.
func benchCell(ctx context.Context, o Options, t matrix.Target) (result.Timings, error) {
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
	if c.Timings.HostSec == 0 {
		c.Timings.HostSec = time.Since(start).Seconds() - c.Timings.ExitSec
	}
	return c.Timings, nil
}

func (r *BenchRow) fill(floors []float64, cells []result.Timings) {
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
	if r.Floor > 0 {
		r.Ratio = r.Cell / r.Floor
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
