package result

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestQuirkTable(t *testing.T) {
	naive := func(name, verdict Verdict, predicted string) Case {
		return Case{Name: string(name), Quirk: "mmap", Role: "naive", Verdict: verdict, Predicted: predicted}
	}
	aware := Case{Name: "mmap-raw-aware", Quirk: "mmap", Role: "aware", Verdict: Handled}
	cells := []Cell{
		{Arch: "s390x", Cases: []Case{
			naive("mmap-raw-naive", QuirkConfirmed, "never fires (no sys_mmap)"),
			naive("mmap-go-naive", QuirkConfirmed, "never fires (Go uses old_mmap)"),
			naive("mmap-raw-old-mmap", QuirkConfirmed, "arg 1 is a pointer to a struct of the arguments (old_mmap)"),
			aware,
			{Name: "write", Verdict: Pass},
		}},
		{Arch: "x86_64", Cases: []Case{naive("mmap-raw-naive", Pass, ""), naive("mmap-go-naive", Fail, ""), aware}},
		{Arch: "x86_64", Cases: []Case{naive("mmap-raw-naive", Pass, ""), naive("mmap-go-naive", Pass, ""),
			{Name: "mmap-raw-aware", Quirk: "mmap", Role: "aware", Verdict: Fail}}},
		// Stopped by the host: it shows no quirk, and is left out.
		{Arch: "s390x", Outcome: OutcomeInfraError, Cases: []Case{naive("mmap-raw-naive", Fail, ""), {Name: "mmap-raw-aware", Quirk: "mmap", Role: "aware", Verdict: Fail, NotRun: true}}},
	}
	rows := QuirkTable(cells)
	assert.Equal(t, []QuirkRow{{Quirk: "mmap", Arches: map[string]QuirkCell{
		"s390x":  {Naive: "never fires (raw, go); arg 1 is a pointer to a struct of the arguments (raw-old-mmap)", Aware: "handled"},
		"x86_64": {Naive: "varies by kernel: see the grid", Aware: "FAIL on some kernels"},
	}}}, rows)
}
