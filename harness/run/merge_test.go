package run

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ksystest/ksystest/harness/result"
	"github.com/ksystest/ksystest/harness/vm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verdicts is what must not change between a sharded and a full run: each
// target's outcome and kernel, each case's verdict. Not timings, and not
// messages, which may quote addresses that differ from boot to boot.
func verdicts(r *result.Run) map[string]any {
	out := map[string]any{}
	for _, c := range r.Cells {
		cases := map[string]result.Verdict{}
		for _, cs := range c.Cases {
			cases[cs.Name] = cs.Verdict
		}
		out[c.Target] = map[string]any{"outcome": c.Outcome, "reason": c.Reason, "kernel": c.Kernel.SHA256, "cases": cases}
	}
	return out
}

func targetOrder(r *result.Run) []string {
	var names []string
	for _, c := range r.Cells {
		names = append(names, c.Target)
	}
	return names
}

func runShards(t *testing.T, o Options, n int) *result.Run {
	t.Helper()
	var dirs []string
	all := o.Targets
	for k := 1; k <= n; k++ {
		spec := ShardSpec{k, n}
		o.Targets = Shard(all, o.Catalogue, spec)
		o.Shard = spec.String()
		o.OutDir = filepath.Join(t.TempDir(), "shard")
		_, err := Run(context.Background(), o)
		require.NoError(t, err)
		dirs = append(dirs, o.OutDir)
	}
	merged, err := Merge(dirs, filepath.Join(t.TempDir(), "merged"))
	require.NoError(t, err)
	return merged
}

func TestMergeEqualsUnshardedRun(t *testing.T) {
	p := []uint64{1, 2, 3}
	o, _ := setup(t, func(s vm.Spec) vm.FakeScript {
		if s.Arch.Name == "s390x" {
			return vm.FakeScript{Lines: lines(hello(), caseLine("write", p, []uint64{1, 9, 3}), done())}
		}
		return goodRun(s)
	})
	full, err := Run(context.Background(), o)
	require.NoError(t, err)

	merged := runShards(t, o, 2)
	assert.Equal(t, verdicts(full), verdicts(merged))
	assert.Equal(t, targetOrder(full), targetOrder(merged), "matrix order restored")
	assert.Equal(t, full.ExitCode(), merged.ExitCode())
	assert.Equal(t, full.Targets, merged.Targets)

	_, err = Merge([]string{t.TempDir()}, t.TempDir())
	assert.ErrorContains(t, err, "no results.json or results.jsonl")
}
