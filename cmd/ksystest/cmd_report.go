package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/ksystest/ksystest/harness/report"
	"github.com/ksystest/ksystest/harness/run"
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
	dir := "ksystest-out"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir) // given results.json itself
	}
	r, err := run.ReadResults(dir)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	switch {
	case *markdown:
		return report.Markdown(s.out, r, dir)
	case *cases:
		return report.Cases(s.out, r)
	}
	return report.Table(s.out, r)
}
