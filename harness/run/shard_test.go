package run

import (
	"github.com/ksystest/ksystest"
	"math/rand"
	"testing"

	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func names(ts []matrix.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestShardPartitionsStablyAndEvenly(t *testing.T) {
	m, err := matrix.Load("../../matrix.yaml", ksystest.Data)
	require.NoError(t, err)
	cat, err := m.Catalogue()
	require.NoError(t, err)

	for n := 1; n <= 4; n++ {
		seen := map[string]int{}
		var costs []float64
		for k := 1; k <= n; k++ {
			part := Shard(m.Targets.List, cat, ShardSpec{k, n})
			cost := 0.0
			for _, tg := range part {
				seen[tg.Name]++
				cost += Cost(tg, cat)
			}
			costs = append(costs, cost)

			// Reordering the matrix changes nothing but the order.
			shuffled := append([]matrix.Target(nil), m.Targets.List...)
			rand.New(rand.NewSource(int64(k))).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			assert.ElementsMatch(t, names(part), names(Shard(shuffled, cat, ShardSpec{k, n})), "shard %d/%d", k, n)
		}
		assert.Len(t, seen, len(m.Targets.List), "every target in some shard (n=%d)", n)
		for name, c := range seen {
			assert.Equal(t, 1, c, "%s in exactly one shard (n=%d)", name, n)
		}
		if n == 2 {
			assert.InDelta(t, costs[0], costs[1], 0.25*(costs[0]+costs[1]), "balanced: %v", costs)
		}
	}
}

func TestParseShard(t *testing.T) {
	s, err := ParseShard("2/3")
	require.NoError(t, err)
	assert.Equal(t, ShardSpec{2, 3}, s)
	for _, bad := range []string{"0/2", "3/2", "1", "a/b", "1/0"} {
		_, err := ParseShard(bad)
		assert.Error(t, err, bad)
	}
}
