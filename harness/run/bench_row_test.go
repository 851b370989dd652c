package run

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ksystest/ksystest/harness/result"
)

func TestBenchRowMedians(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	assert.Zero(t, median(nil))

	var r BenchRow
	one := func(exit, caseLoad float64) result.Timings {
		return result.Timings{ExitSec: exit, DoneSec: exit - 0.2, AgentStartSec: 2, GuestUptimeSec: 1.5, HostSec: exit / 10,
			SetupMS: 900, BTFMS: 5, KallsymsMS: 250, CasesMS: int64(900 + caseLoad), CaseLoadMS: int64(caseLoad), AttachMS: 200}
	}
	restored := []result.Timings{{ExitSec: 0.9}, {ExitSec: 0.7}, {ExitSec: 0.8}}
	execs := []ExecTimings{{Boot: 400 * time.Millisecond, FirstInstruction: 600 * time.Millisecond},
		{Boot: 300 * time.Millisecond, FirstInstruction: 500 * time.Millisecond}, {Boot: 500 * time.Millisecond, FirstInstruction: 700 * time.Millisecond}}
	r.fill([]float64{2, 1, 3}, []result.Timings{one(4, 500), one(5, 600), one(6, 700)}, restored, execs)
	assert.Equal(t, 2.0, r.Floor)
	assert.Equal(t, 5.0, r.Cell)
	assert.Equal(t, 2.5, r.Ratio)
	assert.Equal(t, 0.8, r.Restored)
	assert.InDelta(t, 0.4, r.RestoredRatio, 1e-9)
	assert.Equal(t, 0.4, r.ExecStart)
	assert.Equal(t, 0.6, r.ExecFirst)
	assert.InDelta(t, 0.5, r.QEMUToKern, 1e-9)
	assert.Equal(t, 1.5, r.KernToAgent)
	assert.Equal(t, 0.6, r.Load)
	assert.InDelta(t, 0.7, r.Calls, 1e-9, "the case loop less loads and attaches")
	assert.InDelta(t, 0.645, r.Setup, 1e-9, "set-up less BTF and kallsyms")
	assert.InDelta(t, 0.2, r.PowerOff, 1e-9)
	assert.Equal(t, 0.5, r.Host)
	// The middle run's phases are the middle values; they add up to its cell.
	sum := r.QEMUToKern + r.KernToAgent + r.BTF + r.Kallsyms + r.Setup + r.Load + r.Attach + r.Calls + r.Rest + r.PowerOff
	assert.InDelta(t, r.Cell, sum, 1e-9, "the phases add up to the cell")
}
