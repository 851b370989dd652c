package run

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ksystest/ksystest/harness/result"
)

func TestBenchRowMedians(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	assert.Zero(t, median(nil))

	var r BenchRow
	r.fill([]float64{2, 1, 3}, []result.Timings{
		{ExitSec: 4, DoneSec: 3.9, AgentStartSec: 2, GuestUptimeSec: 1.5, ProbeLoadMS: 500, AttachMS: 200, CasesMS: 1000, BTFMS: 5, HostSec: 0.3},
		{ExitSec: 5, DoneSec: 4.8, AgentStartSec: 2, GuestUptimeSec: 1.5, ProbeLoadMS: 600, AttachMS: 200, CasesMS: 1100, BTFMS: 5, HostSec: 0.4},
		{ExitSec: 6, DoneSec: 5.9, AgentStartSec: 2, GuestUptimeSec: 1.5, ProbeLoadMS: 700, AttachMS: 200, CasesMS: 1200, BTFMS: 5, HostSec: 0.5},
	})
	assert.Equal(t, 2.0, r.Floor)
	assert.Equal(t, 5.0, r.Cell)
	assert.Equal(t, 2.5, r.Ratio)
	assert.InDelta(t, 0.5, r.QEMUToKern, 1e-9)
	assert.Equal(t, 1.5, r.KernToAgent)
	assert.Equal(t, 0.6, r.Load)
	assert.InDelta(t, 0.3, r.Calls, 1e-9, "the case loop less loads and attaches")
	assert.InDelta(t, 0.1, r.PowerOff, 1e-9)
	assert.Equal(t, 0.4, r.Host)
}
