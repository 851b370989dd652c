package run

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/matrix"
)

// ShardSpec is K of N: the K-th (1-based) of N shards.
type ShardSpec struct{ K, N int }

// ParseShard reads "K/N".
func ParseShard(s string) (ShardSpec, error) {
	k, n, ok := strings.Cut(s, "/")
	ki, err1 := strconv.Atoi(k)
	ni, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || ni < 1 || ki < 1 || ki > ni {
		return ShardSpec{}, fmt.Errorf("--shard %q: want K/N with 1 <= K <= N", s)
	}
	return ShardSpec{K: ki, N: ni}, nil
}

func (s ShardSpec) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// Cost estimates a target's run time, in arbitrary units: emulation
// slowdown times the cases it runs, plus a boot. Only the ratios matter.
func Cost(t matrix.Target, cat *matrix.Catalogue) float64 {
	a, err := arch.Lookup(t.Arch)
	if err != nil {
		return 1
	}
	return a.Slowdown * float64(10+len(cat.For(a).Cases))
}

// Shard returns the targets of shard s, in matrix order. The split depends
// only on the targets' names and costs, never on their order in the
// matrix: targets are taken by cost (then name), each into the shard with
// the least cost so far, so shards take about equally long.
func Shard(targets []matrix.Target, cat *matrix.Catalogue, s ShardSpec) []matrix.Target {
	if s.N <= 1 {
		return targets
	}
	type item struct {
		name string
		cost float64
	}
	items := make([]item, len(targets))
	for i, t := range targets {
		items[i] = item{t.Name, Cost(t, cat)}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].cost != items[j].cost {
			return items[i].cost > items[j].cost
		}
		return items[i].name < items[j].name
	})
	load := make([]float64, s.N)
	owner := map[string]int{}
	for _, it := range items {
		best := 0
		for k := 1; k < s.N; k++ {
			if load[k] < load[best] {
				best = k
			}
		}
		load[best] += it.cost
		owner[it.name] = best
	}
	var out []matrix.Target
	for _, t := range targets {
		if owner[t.Name] == s.K-1 {
			out = append(out, t)
		}
	}
	return out
}
