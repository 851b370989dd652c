package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/result"
)

// Outputs are the files a run writes in its output directory beside the
// console logs: results.json and results.jsonl (Run), junit.xml and
// report.md (the command's reports).
var Outputs = []string{"results.json", "results.jsonl", "junit.xml", "report.md"}

// ClearOutputs removes what an earlier run left of Outputs in dir, so that
// a run that ends before its first cell leaves no verdicts but its own.
func ClearOutputs(dir string) error {
	for _, name := range Outputs {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("clear the output of an earlier run: %w", err)
		}
	}
	return nil
}

// resultWriter keeps results.jsonl (one line per finished cell, appended
// and synced as it finishes) and results.json (rewritten atomically).
type resultWriter struct {
	mu      sync.Mutex
	dir     string
	jsonl   *os.File
	run     result.Run
	started time.Time
}

func newResultWriter(dir, matrixFile string) (*resultWriter, error) {
	f, err := os.Create(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &resultWriter{dir: dir, jsonl: f, started: now,
		run: result.Run{Schema: result.SchemaVersion, Matrix: matrixFile, Started: now.UTC().Truncate(time.Second)}}, nil
}

func (w *resultWriter) add(c result.Cell) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := w.jsonl.Write(append(line, '\n')); err != nil {
		return err
	}
	if err := w.jsonl.Sync(); err != nil {
		return err
	}
	w.run.Cells = append(w.run.Cells, c)
	return w.writeJSON()
}

func (w *resultWriter) writeJSON() error {
	w.run.WallSec = secs(time.Since(w.started))
	data, err := json.MarshalIndent(w.run, "", "  ")
	if err != nil {
		return err
	}
	return cache.WriteFileAtomic(filepath.Join(w.dir, "results.json"), append(data, '\n'), 0o644)
}

// finish writes the final results.json with cells in matrix order.
func (w *resultWriter) finish(cells []result.Cell) (*result.Run, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.run.Cells = cells
	w.run.Quirks = result.QuirkTable(cells)
	if err := w.writeJSON(); err != nil {
		return nil, fmt.Errorf("write results.json: %w", err)
	}
	r := w.run
	return &r, nil
}

func (w *resultWriter) close() { w.jsonl.Close() }
