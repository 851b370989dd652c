package run

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
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
	ran := 0
	for k := 1; k <= n; k++ {
		spec := ShardSpec{k, n}
		o.Targets = Shard(all, o.Catalogue, spec)
		require.NotEmpty(t, o.Targets, "shard %s runs nothing", spec)
		o.Shard = spec.String()
		o.OutDir = filepath.Join(t.TempDir(), "shard")
		res, err := Run(context.Background(), o)
		require.NoError(t, err)
		require.Len(t, res.Cells, len(o.Targets), "shard %s", spec)
		ran += len(res.Cells)
		dirs = append(dirs, o.OutDir)
	}
	require.Equal(t, len(all), ran, "the shards run every target once")
	merged, err := Merge(dirs, filepath.Join(t.TempDir(), "merged"))
	require.NoError(t, err)
	require.Len(t, merged.Cells, len(all))
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

// Merge refuses what would make one run of two that are not shards of
// one: a target in two shards, and results of another schema, which
// this ksystest may read wrongly.
func TestMergeRefuses(t *testing.T) {
	write := func(dir string, r result.Run) {
		data, err := json.Marshal(r)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "results.json"), data, 0o644))
	}
	cell := func(target string) result.Cell {
		return result.Cell{Target: target, Arch: "x86_64", Outcome: result.OutcomePass}
	}
	a, b := t.TempDir(), t.TempDir()
	write(a, result.Run{Schema: result.SchemaVersion, Cells: []result.Cell{cell("x86_64-6.1"), cell("x86_64-6.12")}})
	write(b, result.Run{Schema: result.SchemaVersion, Cells: []result.Cell{cell("arm64-6.1"), cell("x86_64-6.12")}})
	_, err := Merge([]string{a, b}, t.TempDir())
	assert.EqualError(t, err, "target x86_64-6.12 is in both "+a+" and "+b)

	write(b, result.Run{Schema: result.SchemaVersion + 1, Cells: []result.Cell{cell("arm64-6.1")}})
	_, err = Merge([]string{a, b}, t.TempDir())
	assert.EqualError(t, err, fmt.Sprintf("%s/results.json: schema %d, this ksystest reads %d", b, result.SchemaVersion+1, result.SchemaVersion))

	write(b, result.Run{Schema: result.SchemaVersion, Cells: []result.Cell{cell("arm64-6.1")}})
	merged, err := Merge([]string{a, b}, t.TempDir())
	require.NoError(t, err)
	assert.Len(t, merged.Cells, 3)
}
