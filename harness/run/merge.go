package run

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/result"
)

// ReadResults reads a run's results from dir: results.json, or, when a
// run was cut short before writing it, the cells of results.jsonl.
func ReadResults(dir string) (*result.Run, error) {
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err == nil {
		var r result.Run
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%s/results.json: %w", dir, err)
		}
		if r.Schema != result.SchemaVersion {
			return nil, fmt.Errorf("%s/results.json: schema %d, this ksystest reads %d", dir, r.Schema, result.SchemaVersion)
		}
		return &r, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("%s: no results.json or results.jsonl", dir)
	}
	defer f.Close()
	r := &result.Run{Schema: result.SchemaVersion}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var c result.Cell
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("%s/results.jsonl: %w", dir, err)
		}
		r.Cells = append(r.Cells, c)
	}
	return r, sc.Err()
}

// Merge combines the results of shard runs into one run written to out:
// cells in the matrix's order, console logs copied along, the quirk table
// recomputed. A target found in two shards is an error.
func Merge(dirs []string, out string) (*result.Run, error) {
	if err := ClearOutputs(out); err != nil {
		return nil, err
	}
	merged := &result.Run{Schema: result.SchemaVersion}
	from := map[string]string{}
	for _, dir := range dirs {
		r, err := ReadResults(dir)
		if err != nil {
			return nil, err
		}
		if merged.Matrix == "" {
			merged.Matrix, merged.Targets = r.Matrix, r.Targets
		}
		if merged.Started.IsZero() || (!r.Started.IsZero() && r.Started.Before(merged.Started)) {
			merged.Started = r.Started
		}
		merged.WallSec = max(merged.WallSec, r.WallSec) // shards run side by side
		for _, c := range r.Cells {
			if prev, dup := from[c.Target]; dup {
				return nil, fmt.Errorf("target %s is in both %s and %s", c.Target, prev, dir)
			}
			from[c.Target] = dir
			merged.Cells = append(merged.Cells, c)
		}
	}
	order := func(name string) int {
		if i := slices.Index(merged.Targets, name); i >= 0 {
			return i
		}
		return len(merged.Targets)
	}
	slices.SortStableFunc(merged.Cells, func(a, b result.Cell) int { return order(a.Target) - order(b.Target) })
	merged.Quirks = result.QuirkTable(merged.Cells)

	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	for _, c := range merged.Cells {
		if c.ConsoleLog == "" {
			continue
		}
		if err := copyFile(filepath.Join(from[c.Target], c.ConsoleLog), filepath.Join(out, c.ConsoleLog)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("copy console log of %s: %w", c.Target, err)
		}
	}
	data, err := json.MarshalIndent(merged, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := cache.WriteFileAtomic(filepath.Join(out, "results.json"), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	return merged, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	return archive.WriteFrom(to, in)
}
