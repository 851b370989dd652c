package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ksystest/ksystest/harness/run"
)

func cmdMerge(_ context.Context, args []string, s streams) error {
	fs := newFlagSet("merge [flags] DIR...", `
Combine the output directories of shard runs (ksystest run --shard K/N)
into one: results.json with every cell in matrix order, the console logs,
JUnit and Markdown, and print the report. The exit code is the merged
run's, as if it had been one run.`, s)
	out := fs.String("out", "ksystest-out", "directory for the merged results")
	if help, err := parseArgs(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErr("merge needs the shard output directories")
	}
	for _, d := range fs.Args() {
		if filepath.Clean(d) == filepath.Clean(*out) {
			return usageErr("--out %q is one of the inputs; merge into another directory", *out)
		}
	}
	r, err := run.Merge(fs.Args(), *out)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := writeReports(s, r, *out); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "merged %d shards into %s\n", fs.NArg(), *out)
	if code := r.ExitCode(); code != 0 {
		return &exitError{code: code}
	}
	return nil
}
