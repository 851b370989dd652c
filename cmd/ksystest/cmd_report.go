package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ksystest/ksystest/harness/report"
	"github.com/ksystest/ksystest/harness/result"
)

func cmdReport(_ context.Context, args []string, s streams) error {
	fs := newFlagSet("report [flags] [DIR | results.json]", `
Render the report of a finished run again, from its results.json (default:
ksystest-out/results.json): the terminal table, or Markdown with links to
the console logs.`, s)
	markdown := fs.Bool("markdown", false, "render GitHub-flavoured Markdown")
	cases := fs.Bool("cases", false, "list every case with passed, captured and tracepoint values side by side")
	if help, err := parseArgs(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("report takes one DIR or results.json")
	}
	path := "ksystest-out"
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "results.json")
	}
	r, err := readResults(path)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	switch {
	case *markdown:
		return report.Markdown(s.out, r, filepath.Dir(path))
	case *cases:
		return report.Cases(s.out, r)
	}
	return report.Table(s.out, r)
}

func readResults(path string) (*result.Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r result.Run
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != result.SchemaVersion {
		return nil, fmt.Errorf("%s: results schema %d, this ksystest reads %d", path, r.Schema, result.SchemaVersion)
	}
	return &r, nil
}
